// Package informerstest runs the real informers.Informers over fake
// metadata and dynamic clients, for tests that need a Store holding given
// objects and following changes to them.
package informerstest

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/lowmem/harvester-network-webhook/informers"
)

// syncTimeout bounds every wait for the informers to catch up.
const syncTimeout = 10 * time.Second

// Cluster is a fake API server (one fake client per protocol, holding the
// same objects) and a started, synced Store over it.
type Cluster struct {
	Store    *informers.Informers
	Metadata *metadatafake.FakeMetadataClient
	Dynamic  *dynamicfake.FakeDynamicClient

	t     testing.TB
	kinds map[schema.GroupVersionKind]informers.Kind

	mu sync.Mutex
	rv int64 // last resourceVersion handed out

	getDelay      atomic.Int64 // nanoseconds each on-demand GET waits
	gets, getPeak atomic.Int64 // on-demand GETs running now, and at most
}

// NewStore returns a synced Store of the v1.4 kinds holding objs. Objects of
// kinds it does not watch are ignored. It stops when the test ends.
func NewStore(t testing.TB, objs ...*unstructured.Unstructured) *informers.Informers {
	t.Helper()
	return New(t, informers.Config{}, objs...).Store
}

// NewVersion starts a Cluster with the profile of Harvester v1.<minor>
// (informers.KindsFor) holding objs. From v1.6 on, kube-ovn is enabled when
// objs hold KubeOVNCRD().
func NewVersion(t testing.TB, minor int, objs ...*unstructured.Unstructured) *Cluster {
	t.Helper()
	kinds, ovn := informers.KindsFor(minor)
	return New(t, informers.Config{Kinds: kinds, WatchKubeOVN: ovn}, objs...)
}

// KubeOVNCRD returns the CustomResourceDefinition subnets.kubeovn.io whose
// presence enables kube-ovn (Config.WatchKubeOVN).
func KubeOVNCRD() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": informers.KubeOVNCRDName},
		"spec": map[string]any{
			"group": "kubeovn.io",
			"names": map[string]any{"kind": "Subnet", "plural": "subnets", "singular": "subnet"},
			"scope": "Cluster",
		},
	}}
}

// New starts a Cluster holding objs and waits for its Store to sync. In cfg,
// the clients are ignored; Kinds, WatchKubeOVN, LRUBytes and Logger are used.
// Objects without a resourceVersion get one; objects of kinds not in
// cfg.Kinds (or the CRD KubeOVNCRD without cfg.WatchKubeOVN) are ignored.
func New(t testing.TB, cfg informers.Config, objs ...*unstructured.Unstructured) *Cluster {
	t.Helper()
	if cfg.Kinds == nil {
		cfg.Kinds = informers.V14Kinds()
	}
	c := &Cluster{t: t, kinds: make(map[schema.GroupVersionKind]informers.Kind), rv: 1_000_000}
	listKinds := make(map[schema.GroupVersionResource]string, len(cfg.Kinds))
	kinds := cfg.Kinds
	if cfg.WatchKubeOVN {
		kinds = append(slices.Clip(kinds), informers.Kind{Name: informers.KindCRD, GVR: informers.CRDsGVR})
	}
	for _, k := range kinds {
		c.kinds[k.GVR.GroupVersion().WithKind(k.Name)] = k
		listKinds[k.GVR] = k.Name + "List"
	}
	c.Metadata = metadatafake.NewSimpleMetadataClient(metadatafake.NewTestScheme())
	c.Dynamic = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds)
	for _, obj := range objs {
		if _, ok := c.kinds[obj.GroupVersionKind()]; !ok {
			continue
		}
		obj = obj.DeepCopy()
		if obj.GetResourceVersion() == "" {
			obj.SetResourceVersion(c.nextRV())
		}
		if err := c.write(obj, false); err != nil {
			t.Fatalf("informerstest: add %s %s/%s: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
		}
	}

	cfg.Metadata, cfg.Dynamic = c.Metadata, c.Dynamic
	cfg.Fetcher = &fetcher{Interface: c.Dynamic, c: c}
	store, err := informers.New(cfg)
	if err != nil {
		t.Fatalf("informerstest: %v", err)
	}
	c.Store = store
	ctx, cancel := context.WithCancel(context.Background())
	store.Start(ctx)
	t.Cleanup(func() {
		cancel()
		store.Wait()
	})
	syncCtx, syncCancel := context.WithTimeout(ctx, syncTimeout)
	defer syncCancel()
	if err := store.WaitForSync(syncCtx); err != nil {
		t.Fatalf("informerstest: %v", err)
	}
	c.waitWatching(nil)
	return c
}

// Create adds obj to the fake cluster with a new resourceVersion and waits
// until the Store holds it.
func (c *Cluster) Create(obj *unstructured.Unstructured) {
	c.t.Helper()
	c.change(obj, false)
}

// Update replaces obj in the fake cluster, giving it a new resourceVersion,
// and waits until the Store holds that version.
func (c *Cluster) Update(obj *unstructured.Unstructured) {
	c.t.Helper()
	c.change(obj, true)
}

// Delete removes the object named like obj (kind, namespace, name) from the
// fake cluster and waits until the Store no longer holds it.
func (c *Cluster) Delete(obj *unstructured.Unstructured) {
	c.t.Helper()
	k := c.kind(obj)
	ns, name := obj.GetNamespace(), obj.GetName()
	before := c.watchesIfDisabled()
	if err := c.Metadata.Tracker().Delete(k.GVR, ns, name); err != nil {
		c.t.Fatalf("informerstest: delete %s %s/%s: %v", k.Name, ns, name, err)
	}
	if err := c.Dynamic.Tracker().Delete(k.GVR, ns, name); err != nil {
		c.t.Fatalf("informerstest: delete %s %s/%s: %v", k.Name, ns, name, err)
	}
	if c.waits(k) {
		c.waitFor(k, ns, name, func(_ string, ok bool) bool { return !ok })
	}
	if k.Name == informers.KindCRD && name == informers.KubeOVNCRDName {
		c.waitKubeOVN(false, before)
	}
}

// EnableKubeOVN creates KubeOVNCRD() and waits until the Store reports
// kube-ovn enabled and its kube-ovn informers have synced.
func (c *Cluster) EnableKubeOVN() {
	c.t.Helper()
	c.Create(KubeOVNCRD())
}

// DisableKubeOVN deletes KubeOVNCRD() and waits until the Store reports
// kube-ovn disabled.
func (c *Cluster) DisableKubeOVN() {
	c.t.Helper()
	c.Delete(KubeOVNCRD())
}

// ListsAndWatches counts the list and watch requests sent for resource (for
// example "virtualmachines") through both fake clients.
func (c *Cluster) ListsAndWatches(resource string) int {
	n := 0
	for _, actions := range [][]clienttesting.Action{c.Metadata.Actions(), c.Dynamic.Actions()} {
		for _, a := range actions {
			if (a.GetVerb() == "list" || a.GetVerb() == "watch") && a.GetResource().Resource == resource {
				n++
			}
		}
	}
	return n
}

// Gets counts the GET requests sent for kind through the dynamic client:
// the full-object fetches of the Store.
func (c *Cluster) Gets(kind string) int {
	n := 0
	for _, a := range c.Dynamic.Actions() {
		if a.GetVerb() == "get" && a.GetResource().Resource == c.kindByName(kind).GVR.Resource {
			n++
		}
	}
	return n
}

func (c *Cluster) change(obj *unstructured.Unstructured, update bool) {
	c.t.Helper()
	k := c.kind(obj)
	obj = obj.DeepCopy()
	rv := c.nextRV()
	obj.SetResourceVersion(rv)
	before := c.watchesIfDisabled()
	if err := c.write(obj, update); err != nil {
		c.t.Fatalf("informerstest: write %s %s/%s: %v", k.Name, obj.GetNamespace(), obj.GetName(), err)
	}
	if c.waits(k) {
		c.waitFor(k, obj.GetNamespace(), obj.GetName(), func(got string, ok bool) bool { return ok && got == rv })
	}
	if k.Name == informers.KindCRD && obj.GetName() == informers.KubeOVNCRDName {
		c.waitKubeOVN(obj.GetDeletionTimestamp() == nil, before)
	}
}

// waits tells whether the Store is to follow changes of kind k now: kube-ovn
// kinds are not watched while kube-ovn is disabled.
func (c *Cluster) waits(k informers.Kind) bool {
	return !k.KubeOVN || c.Store.KubeOVNEnabled()
}

// waitKubeOVN waits until the Store reports kube-ovn as enabled and is
// ready, and then until every running informer watches; before, if not nil,
// are the watch counts taken while kube-ovn was disabled.
func (c *Cluster) waitKubeOVN(enabled bool, before map[string]int) {
	c.t.Helper()
	deadline := time.Now().Add(syncTimeout)
	for c.Store.KubeOVNEnabled() != enabled || c.Store.Ready() != nil {
		if time.Now().After(deadline) {
			c.t.Fatalf("informerstest: store did not follow kube-ovn enabled=%v (Ready: %v)", enabled, c.Store.Ready())
		}
		time.Sleep(2 * time.Millisecond)
	}
	c.waitWatching(before)
}

// waitWatching waits until every running informer has opened a watch, the
// kube-ovn ones after the watch counts before if it is not nil. The fake clients do not
// replay changes made between a list and the watch that follows it; without
// this wait, a change right after a sync could be lost.
func (c *Cluster) waitWatching(before map[string]int) {
	c.t.Helper()
	deadline := time.Now().Add(syncTimeout)
	for {
		now := c.watches()
		pending := ""
		for _, k := range c.kinds {
			if !c.waits(k) {
				continue
			}
			if n := now[k.GVR.Resource]; n == 0 || (k.KubeOVN && n <= before[k.GVR.Resource]) {
				pending = k.Name
				break
			}
		}
		if pending == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("informerstest: the %s informer does not watch", pending)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// watchesIfDisabled returns the watch counts while kube-ovn is disabled, so
// that waitWatching can wait for the watches of its informers to come; nil
// while enabled, when those informers are watching already.
func (c *Cluster) watchesIfDisabled() map[string]int {
	if c.Store.KubeOVNEnabled() {
		return nil
	}
	return c.watches()
}

// watches counts the watch requests per resource, in both fake clients.
// A watch is counted once the fake has registered it.
func (c *Cluster) watches() map[string]int {
	out := make(map[string]int)
	for _, actions := range [][]clienttesting.Action{c.Metadata.Actions(), c.Dynamic.Actions()} {
		for _, a := range actions {
			if a.GetVerb() == "watch" {
				out[a.GetResource().Resource]++
			}
		}
	}
	return out
}

// write stores obj in both fake clients: as metadata for the metadata
// informers and in full for GETs and the projected kinds.
func (c *Cluster) write(obj *unstructured.Unstructured, update bool) error {
	gvr := c.kinds[obj.GroupVersionKind()].GVR
	ns := obj.GetNamespace()
	pom := partialMetadata(obj)
	if update {
		if err := c.Metadata.Tracker().Update(gvr, pom, ns); err != nil {
			return err
		}
		return c.Dynamic.Tracker().Update(gvr, obj, ns)
	}
	if err := c.Metadata.Tracker().Create(gvr, pom, ns); err != nil {
		return err
	}
	return c.Dynamic.Tracker().Create(gvr, obj, ns)
}

// waitFor polls the Store until done accepts what it holds for the object.
func (c *Cluster) waitFor(k informers.Kind, ns, name string, done func(rv string, ok bool) bool) {
	c.t.Helper()
	deadline := time.Now().Add(syncTimeout)
	for !done(c.Store.ResourceVersion(k.Name, ns, name)) {
		if time.Now().After(deadline) {
			c.t.Fatalf("informerstest: store did not follow the change of %s %s/%s", k.Name, ns, name)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (c *Cluster) kind(obj *unstructured.Unstructured) informers.Kind {
	c.t.Helper()
	k, ok := c.kinds[obj.GroupVersionKind()]
	if !ok {
		c.t.Fatalf("informerstest: kind %s is not watched", obj.GroupVersionKind())
	}
	return k
}

func (c *Cluster) kindByName(name string) informers.Kind {
	c.t.Helper()
	for _, k := range c.kinds {
		if k.Name == name {
			return k
		}
	}
	c.t.Fatalf("informerstest: kind %s is not watched", name)
	return informers.Kind{}
}

func (c *Cluster) nextRV() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rv++
	return strconv.FormatInt(c.rv, 10)
}

// partialMetadata is what the API server sends a metadata client for obj.
func partialMetadata(obj *unstructured.Unstructured) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind()},
		ObjectMeta: metav1.ObjectMeta{
			Name:              obj.GetName(),
			Namespace:         obj.GetNamespace(),
			UID:               obj.GetUID(),
			ResourceVersion:   obj.GetResourceVersion(),
			Generation:        obj.GetGeneration(),
			CreationTimestamp: obj.GetCreationTimestamp(),
			DeletionTimestamp: obj.GetDeletionTimestamp(),
			Labels:            obj.GetLabels(),
			Annotations:       obj.GetAnnotations(),
			OwnerReferences:   obj.GetOwnerReferences(),
			Finalizers:        obj.GetFinalizers(),
			ManagedFields:     obj.GetManagedFields(),
		},
	}
}

// DelayGets makes every on-demand GET of the Store wait d before the fake
// API server answers it. The fake client serialises its answers; the wait
// is outside it, so concurrent GETs overlap as they would on a network.
func (c *Cluster) DelayGets(d time.Duration) { c.getDelay.Store(int64(d)) }

// PeakGets returns the most on-demand GETs that were running at once.
func (c *Cluster) PeakGets() int { return int(c.getPeak.Load()) }

// fetcher is the Store's on-demand GET client: the fake dynamic client,
// after DelayGets' wait.
type fetcher struct {
	dynamic.Interface
	c *Cluster
}

func (f *fetcher) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return fetcherResource{f.Interface.Resource(gvr), f.c}
}

type fetcherResource struct {
	dynamic.NamespaceableResourceInterface
	c *Cluster
}

func (r fetcherResource) Namespace(ns string) dynamic.ResourceInterface {
	return fetcherNamespace{r.NamespaceableResourceInterface.Namespace(ns), r.c}
}

type fetcherNamespace struct {
	dynamic.ResourceInterface
	c *Cluster
}

func (r fetcherNamespace) Get(ctx context.Context, name string, opts metav1.GetOptions, sub ...string) (*unstructured.Unstructured, error) {
	n := r.c.gets.Add(1)
	defer r.c.gets.Add(-1)
	for p := r.c.getPeak.Load(); n > p && !r.c.getPeak.CompareAndSwap(p, n); p = r.c.getPeak.Load() {
	}
	if d := time.Duration(r.c.getDelay.Load()); d > 0 {
		time.Sleep(d)
	}
	return r.ResourceInterface.Get(ctx, name, opts, sub...)
}
