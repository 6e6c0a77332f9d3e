package informers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// decodeFunc extracts the fields the rules read from a full object and
// estimates the bytes the result holds.
type decodeFunc func(u *unstructured.Unstructured) (value any, size int64, err error)

// ClusterNetwork implements Store.
func (i *Informers) ClusterNetwork(ctx context.Context, name string) (*ClusterNetwork, error) {
	v, err := i.full(ctx, KindClusterNetwork, "", name, decodeClusterNetwork)
	if err != nil {
		return nil, err
	}
	return v.(*ClusterNetwork), nil
}

// VlanStatus implements Store.
func (i *Informers) VlanStatus(ctx context.Context, name string) (*VlanStatus, error) {
	v, err := i.full(ctx, KindVlanStatus, "", name, decodeVlanStatus)
	if err != nil {
		return nil, err
	}
	return v.(*VlanStatus), nil
}

// VlanStatusesNamed implements Store: the cached ones come from the LRU,
// the misses are fetched together (fetchAll).
func (i *Informers) VlanStatusesNamed(ctx context.Context, names []string) ([]*VlanStatus, []error) {
	out, errs := make([]*VlanStatus, len(names)), make([]error, len(names))
	ki := i.informer(KindVlanStatus)
	if ki == nil {
		for n := range names {
			errs[n] = fmt.Errorf("internal error: kind %s is not watched", KindVlanStatus)
		}
		return out, errs
	}
	var metas []metav1.Object
	var at []int // names' index of each of metas
	for n, name := range names {
		m, ok := ki.get("", name)
		if !ok {
			errs[n] = apierrors.NewNotFound(ki.kind.GVR.GroupResource(), name)
			continue
		}
		metas, at = append(metas, m), append(at, n)
	}
	values, fetchErrs := i.fetchAll(ctx, ki, metas, decodeVlanStatus)
	for k, n := range at {
		if errs[n] = fetchErrs[k]; errs[n] == nil {
			out[n] = values[k].(*VlanStatus)
		}
	}
	return out, errs
}

// VlanConfigs implements Store. A VlanConfig deleted between the label lookup
// and its fetch is left out.
func (i *Informers) VlanConfigs(ctx context.Context, clusterNetwork string) ([]*VlanConfig, error) {
	return fetchSelected[*VlanConfig](ctx, i, KindVlanConfig, "", vlanConfigsOf(clusterNetwork), decodeVlanConfig)
}

// FirstVlanConfig implements Store. One deleted before its fetch is passed
// over, as VlanConfigs leaves it out.
func (i *Informers) FirstVlanConfig(ctx context.Context, clusterNetwork string) (*VlanConfig, error) {
	ki := i.informer(KindVlanConfig)
	if ki == nil {
		return nil, nil
	}
	for _, m := range selectIn(ki, "", vlanConfigsOf(clusterNetwork)) {
		values, errs := i.fetchAll(ctx, ki, []metav1.Object{m}, decodeVlanConfig)
		if apierrors.IsNotFound(errs[0]) {
			continue
		}
		if errs[0] != nil {
			return nil, errs[0]
		}
		return values[0].(*VlanConfig), nil
	}
	return nil, nil
}

func vlanConfigsOf(clusterNetwork string) labels.Selector {
	return labels.SelectorFromValidatedSet(labels.Set{LabelClusterNetwork: clusterNetwork})
}

// VlanStatuses implements Store. A VlanStatus deleted between the label
// lookup and its fetch is left out.
func (i *Informers) VlanStatuses(ctx context.Context, labelKey, value string) ([]*VlanStatus, error) {
	return fetchSelected[*VlanStatus](ctx, i, KindVlanStatus, "",
		labels.SelectorFromSet(labels.Set{labelKey: value}), decodeVlanStatus)
}

// HostNetworkConfigs implements Store, sorted by name; empty when the profile
// does not watch them. One deleted between the cache lookup and its fetch is
// left out.
func (i *Informers) HostNetworkConfigs(ctx context.Context) ([]*HostNetworkConfig, error) {
	return fetchSelected[*HostNetworkConfig](ctx, i, KindHostNetworkConfig, "", nil, decodeHostNetworkConfig)
}

// NADConfig implements Store.
func (i *Informers) NADConfig(ctx context.Context, namespace, name string) (string, error) {
	v, err := i.full(ctx, KindNAD, namespace, name, decodeNADConfig)
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// fetchSelected returns the objects of kind that selectMeta selects, in its
// order, decoded through the LRU; the misses are fetched concurrently.
// Objects deleted before their fetch are left out; a kind that is not
// running gives nothing. As if fetched one by one, the first error in that
// order is returned.
func fetchSelected[T any](ctx context.Context, i *Informers, kind, namespace string, selector labels.Selector, decode decodeFunc) ([]T, error) {
	ki := i.informer(kind)
	if ki == nil {
		return nil, nil
	}
	metas := selectIn(ki, namespace, selector)
	values, errs := i.fetchAll(ctx, ki, metas, decode)
	out := make([]T, 0, len(metas))
	for n, v := range values {
		if apierrors.IsNotFound(errs[n]) {
			continue
		}
		if errs[n] != nil {
			return nil, errs[n]
		}
		out = append(out, v.(T))
	}
	return out, nil
}

// FetchConcurrency bounds the GETs one lookup runs at once: a few misses
// cost one round trip to the API server rather than one each, and one
// review does not take the client's whole burst.
const FetchConcurrency = 4

// fetchAll fetches every object of metas, at most FetchConcurrency GETs at
// a time, and returns the values and errors in metas' order.
func (i *Informers) fetchAll(ctx context.Context, ki *kindInformer, metas []metav1.Object, decode decodeFunc) ([]any, []error) {
	values, errs := make([]any, len(metas)), make([]error, len(metas))
	var misses []int
	for n, m := range metas {
		if v, ok := i.lru.get(lruKeyOf(ki, m), m.GetResourceVersion()); ok {
			values[n] = v
		} else {
			misses = append(misses, n)
		}
	}
	switch len(misses) {
	case 0:
		return values, errs
	case 1:
		n := misses[0]
		values[n], errs[n] = i.get(ctx, ki, metas[n], decode)
		return values, errs
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, FetchConcurrency)
	for _, n := range misses {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			values[n], errs[n] = i.get(ctx, ki, metas[n], decode)
		})
	}
	wg.Wait()
	return values, errs
}

// full returns the decoded object kind namespace/name ("" namespace for a
// cluster-scoped kind): NotFound when the informer does not hold it, else
// the LRU entry or a GET.
func (i *Informers) full(ctx context.Context, kind, namespace, name string, decode decodeFunc) (any, error) {
	ki := i.informer(kind)
	if ki == nil {
		return nil, fmt.Errorf("internal error: kind %s is not watched", kind)
	}
	m, ok := ki.get(namespace, name)
	if !ok {
		return nil, apierrors.NewNotFound(ki.kind.GVR.GroupResource(), name)
	}
	return i.fetch(ctx, ki, m, decode)
}

func lruKeyOf(ki *kindInformer, m metav1.Object) lruKey {
	return lruKey{ki.kind.GVR.GroupResource(), m.GetNamespace(), m.GetName()}
}

// fetch returns the decoded object m, from the LRU if the entry is at the
// resourceVersion the informer reports, else by a GET.
func (i *Informers) fetch(ctx context.Context, ki *kindInformer, m metav1.Object, decode decodeFunc) (any, error) {
	if v, ok := i.lru.get(lruKeyOf(ki, m), m.GetResourceVersion()); ok {
		return v, nil
	}
	return i.get(ctx, ki, m, decode)
}

// DefaultFetchTimeout bounds an on-demand GET. It runs apart from the
// reviews waiting for it, which stop waiting at their own deadlines: a
// late answer still fills the LRU for the next review.
const DefaultFetchTimeout = 10 * time.Second

// fetchResult is what a GET gave to every review waiting for it.
type fetchResult struct {
	value any
	err   error
}

// get fetches m by a GET without resourceVersion (a consistent read), and
// stores the result in the LRU stamped with its own resourceVersion: if the
// informer lags behind it, the next lookup misses and fetches again until
// the informer catches up. Concurrent misses of one object at one
// resourceVersion share a GET: each of them saw that version in the
// informer before the GET began, so the GET's answer is at least as new.
// A caller whose context ends first gets an error naming the object.
func (i *Informers) get(ctx context.Context, ki *kindInformer, m metav1.Object, decode decodeFunc) (any, error) {
	key := lruKeyOf(ki, m)
	if err := ctx.Err(); err != nil {
		return nil, &fetchError{resource: key.resource, namespace: key.namespace, name: key.name, err: err}
	}
	rv := m.GetResourceVersion()
	flight := key.resource.String() + "/" + key.namespace + "/" + key.name + "@" + rv
	ch := i.flights.DoChan(flight, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), i.fetchTimeout)
		defer cancel()
		v, err := i.getNow(ctx, ki, m, decode)
		return fetchResult{v, err}, nil
	})
	select {
	case r := <-ch:
		res := r.Val.(fetchResult)
		return res.value, res.err
	case <-ctx.Done():
		return nil, &fetchError{resource: key.resource, namespace: key.namespace, name: key.name, err: ctx.Err()}
	}
}

// getNow runs the GET of m.
func (i *Informers) getNow(ctx context.Context, ki *kindInformer, m metav1.Object, decode decodeFunc) (any, error) {
	key := lruKeyOf(ki, m)
	began := time.Now()
	u, err := i.fetcher.Resource(ki.kind.GVR).Namespace(m.GetNamespace()).Get(ctx, m.GetName(), metav1.GetOptions{})
	if i.fetches != nil {
		i.fetches.ObserveFetch(ki.kind.Name, time.Since(began), err)
	}
	if apierrors.IsNotFound(err) {
		// Deleted since the informer saw it; report it the way a cache
		// miss reads, whatever text the server used.
		return nil, apierrors.NewNotFound(key.resource, m.GetName())
	}
	if err != nil {
		return nil, &fetchError{resource: key.resource, namespace: key.namespace, name: key.name, err: err}
	}
	v, size, err := decode(u)
	if err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", key.resource, m.GetName(), err)
	}
	i.lru.add(key, u.GetResourceVersion(), v, size)
	return v, nil
}

// fetchError says which object could not be read: a rule that needs it
// denies with this text rather than decide without it.
type fetchError struct {
	resource        schema.GroupResource
	namespace, name string
	err             error
}

func (e *fetchError) Error() string {
	name := e.name
	if e.namespace != "" {
		name = e.namespace + "/" + e.name
	}
	return fmt.Sprintf("cannot read %s %s from the API server: %v", e.resource, name, e.err)
}

func (e *fetchError) Unwrap() error { return e.err }

func decodeClusterNetwork(u *unstructured.Unstructured) (any, int64, error) {
	cn := &ClusterNetwork{
		Name:        strings.Clone(u.GetName()),
		Annotations: internMap(u.GetAnnotations(), allowedAnnotation),
		Ready:       conditionStatus(u, "ready") == "True",
	}
	size := int64(unsafe.Sizeof(*cn)) + int64(len(cn.Name)) + mapBytes(cn.Annotations)
	return cn, size, nil
}

func decodeVlanStatus(u *unstructured.Unstructured) (any, int64, error) {
	vs := &VlanStatus{
		Name:   strings.Clone(u.GetName()),
		Labels: internMap(u.GetLabels(), nil),
		Ready:  intern(conditionStatus(u, "ready")),
	}
	if s, ok := nested(u.Object, "status", "vlanConfig").(string); ok {
		vs.VlanConfig = intern(s)
	}
	size := int64(unsafe.Sizeof(*vs)) + int64(len(vs.Name)+len(vs.VlanConfig)+len(vs.Ready)) + mapBytes(vs.Labels)
	return vs, size, nil
}

func decodeVlanConfig(u *unstructured.Unstructured) (any, int64, error) {
	vc := &VlanConfig{
		Name:        strings.Clone(u.GetName()),
		Labels:      internMap(u.GetLabels(), nil),
		Annotations: internMap(u.GetAnnotations(), allowedAnnotation),
		Deleting:    u.GetDeletionTimestamp() != nil,
	}
	if spec, ok := u.Object["spec"].(map[string]any); ok {
		// Unknown fields are ignored; a field of the wrong type is an error.
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(spec, &vc.Spec); err != nil {
			return nil, 0, fmt.Errorf("spec: %w", err)
		}
	}
	vc.Spec.ClusterNetwork = intern(vc.Spec.ClusterNetwork)
	vc.Spec.NodeSelector = internMap(vc.Spec.NodeSelector, nil)
	return vc, vlanConfigBytes(vc), nil
}

func vlanConfigBytes(vc *VlanConfig) int64 {
	s := &vc.Spec
	n := int64(unsafe.Sizeof(*vc)) + int64(len(vc.Name)) + mapBytes(vc.Labels) + mapBytes(vc.Annotations)
	n += int64(len(s.Description)+len(s.ClusterNetwork)) + mapBytes(s.NodeSelector)
	n += int64(cap(s.Uplink.NICs)) * int64(unsafe.Sizeof(""))
	for _, nic := range s.Uplink.NICs {
		n += int64(len(nic))
	}
	if a := s.Uplink.LinkAttributes; a != nil {
		n += int64(unsafe.Sizeof(*a)) + int64(len(a.HardwareAddr))
	}
	if b := s.Uplink.BondOptions; b != nil {
		n += int64(unsafe.Sizeof(*b)) + int64(len(b.Mode))
	}
	return n
}

func decodeHostNetworkConfig(u *unstructured.Unstructured) (any, int64, error) {
	hnc := &HostNetworkConfig{
		Name:     strings.Clone(u.GetName()),
		Deleting: u.GetDeletionTimestamp() != nil,
	}
	if spec, ok := u.Object["spec"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(spec, &hnc.Spec); err != nil {
			return nil, 0, fmt.Errorf("spec: %w", err)
		}
	}
	s := &hnc.Spec
	s.ClusterNetwork = intern(s.ClusterNetwork)
	s.Mode = intern(s.Mode)
	s.IPs = internMap(s.IPs, nil)
	n := int64(unsafe.Sizeof(*hnc)) + int64(len(hnc.Name)+len(s.ClusterNetwork)+len(s.Mode)) + mapBytes(s.IPs)
	if sel := s.NodeSelector; sel != nil {
		sel.MatchLabels = internMap(sel.MatchLabels, nil)
		n += int64(unsafe.Sizeof(*sel)) + mapBytes(sel.MatchLabels)
		for j := range sel.MatchExpressions {
			e := &sel.MatchExpressions[j]
			e.Key, e.Operator = intern(e.Key), metav1.LabelSelectorOperator(intern(string(e.Operator)))
			n += int64(unsafe.Sizeof(*e)) + int64(len(e.Key)+len(e.Operator))
			for k, v := range e.Values {
				e.Values[k] = intern(v)
				n += int64(unsafe.Sizeof(v)) + int64(len(v))
			}
		}
	}
	return hnc, n, nil
}

// decodeNADConfig keeps spec.config of a NAD, "" when absent.
func decodeNADConfig(u *unstructured.Unstructured) (any, int64, error) {
	var config string
	switch c := nested(u.Object, "spec", "config").(type) {
	case nil:
	case string:
		config = strings.Clone(c)
	default:
		return nil, 0, fmt.Errorf("spec.config is a %T, not a string", c)
	}
	return config, int64(unsafe.Sizeof(config)) + int64(len(config)), nil
}

// conditionStatus returns status.conditions[type=typ].status of u (the first
// such condition), or "" when there is none or it is malformed.
func conditionStatus(u *unstructured.Unstructured, typ string) string {
	conds, _ := nested(u.Object, "status", "conditions").([]any)
	for _, c := range conds {
		if t, _ := nested(c, "type").(string); t == typ {
			s, _ := nested(c, "status").(string)
			return s
		}
	}
	return ""
}

// Map cost estimate: a header and group bookkeeping, then per entry two
// string headers plus control and slack (Go swiss tables, 7/8 load).
const (
	mapHeaderBytes = 48
	mapEntryBytes  = 40
)

// mapBytes estimates the heap bytes of a string map, strings included.
func mapBytes(m map[string]string) int64 {
	if m == nil {
		return 0
	}
	n := int64(mapHeaderBytes + mapEntryBytes*len(m))
	for k, v := range m {
		n += int64(len(k) + len(v))
	}
	return n
}
