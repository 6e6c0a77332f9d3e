package informers

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unsafe"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
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

// VlanConfigs implements Store. A VlanConfig deleted between the label lookup
// and its fetch is left out.
func (i *Informers) VlanConfigs(ctx context.Context, clusterNetwork string) ([]*VlanConfig, error) {
	return fetchSelected[*VlanConfig](ctx, i, KindVlanConfig, "",
		labels.SelectorFromSet(labels.Set{LabelClusterNetwork: clusterNetwork}), decodeVlanConfig)
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
// order, decoded through the LRU. Objects deleted before their fetch are
// left out; a kind that is not running gives nothing.
func fetchSelected[T any](ctx context.Context, i *Informers, kind, namespace string, selector labels.Selector, decode decodeFunc) ([]T, error) {
	ki := i.informer(kind)
	if ki == nil {
		return nil, nil
	}
	metas := selectIn(ki, namespace, selector)
	out := make([]T, 0, len(metas))
	for _, m := range metas {
		v, err := i.fetch(ctx, ki, m, decode)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v.(T))
	}
	return out, nil
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

// fetch returns the decoded object m, from the LRU if the entry is at the
// resourceVersion the informer reports, else by a GET without
// resourceVersion (a consistent read). The GET result is stored stamped with
// its own resourceVersion: if the informer lags behind it, the next lookup
// misses and fetches again until the informer catches up.
func (i *Informers) fetch(ctx context.Context, ki *kindInformer, m metav1.Object, decode decodeFunc) (any, error) {
	gr := ki.kind.GVR.GroupResource()
	key := lruKey{gr, m.GetNamespace(), m.GetName()}
	if v, ok := i.lru.get(key, m.GetResourceVersion()); ok {
		return v, nil
	}
	began := time.Now()
	u, err := i.dynamic.Resource(ki.kind.GVR).Namespace(m.GetNamespace()).Get(ctx, m.GetName(), metav1.GetOptions{})
	if i.fetches != nil {
		i.fetches.ObserveFetch(ki.kind.Name, time.Since(began), err)
	}
	if apierrors.IsNotFound(err) {
		// Deleted since the informer saw it; report it the way a cache
		// miss reads, whatever text the server used.
		return nil, apierrors.NewNotFound(gr, m.GetName())
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", gr, m.GetName(), err)
	}
	v, size, err := decode(u)
	if err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", gr, m.GetName(), err)
	}
	i.lru.add(key, u.GetResourceVersion(), v, size)
	return v, nil
}

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
