package informers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/tools/cache"
)

// kubeOVN follows the presence of kube-ovn and runs the kinds marked KubeOVN
// only while it is installed. The presence is one object, the CRD
// subnets.kubeovn.io, watched by a metadata informer narrowed to that name by
// a field selector, so no other CRD is ever listed or cached.
type kubeOVN struct {
	i            *Informers
	kinds        []Kind        // the kube-ovn kinds, in Config.Kinds order
	crd          *kindInformer // the presence watch
	registration cache.ResourceEventHandlerRegistration

	mu        sync.RWMutex
	ctx       context.Context // Start's; nil before Start
	enabled   bool
	running   []*kindInformer // the kube-ovn kinds' informers while enabled
	stop      context.CancelFunc
	listeners []func(enabled bool)
}

func (i *Informers) newKubeOVN(kinds []Kind) (*kubeOVN, error) {
	o := &kubeOVN{i: i, kinds: kinds}
	crd, inf, err := i.newMetadataInformer(Kind{Name: KindCRD, GVR: CRDsGVR}, func(opts *metav1.ListOptions) {
		opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", KubeOVNCRDName).String()
	})
	if err != nil {
		return nil, err
	}
	o.crd = crd
	// Every event re-reads the cache, so the handler needs no event data:
	// the state it acts on is at least as new as the event.
	changed := func() { o.update() }
	o.registration, err = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { changed() },
		UpdateFunc: func(any, any) { changed() },
		DeleteFunc: func(any) { changed() },
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// start runs the presence watch; its handler starts the kube-ovn kinds.
func (o *kubeOVN) start(ctx context.Context) {
	o.mu.Lock()
	o.ctx = ctx
	o.mu.Unlock()
	o.i.run(ctx, o.crd)
}

// update starts or stops the kube-ovn kinds after a change of the CRD, and
// tells the listeners. It runs in the CRD informer's handler goroutine, one
// call at a time, so listeners see the changes in order.
func (o *kubeOVN) update() {
	enabled := false
	if obj, ok, _ := o.crd.indexer.GetByKey(KubeOVNCRDName); ok {
		if m, ok := obj.(metav1.Object); ok {
			enabled = m.GetDeletionTimestamp() == nil
		}
	}

	o.mu.Lock()
	if enabled == o.enabled {
		o.mu.Unlock()
		return
	}
	o.enabled = enabled
	if enabled {
		o.startKinds()
	} else {
		o.stopKinds()
	}
	listeners := slices.Clone(o.listeners)
	o.mu.Unlock()

	o.i.logger.Info("kube-ovn presence changed", zap.Bool("enabled", enabled))
	for _, f := range listeners {
		f(enabled)
	}
}

// startKinds builds fresh informers for the kube-ovn kinds (a stopped
// informer cannot run again) and runs them. o.mu is held.
func (o *kubeOVN) startKinds() {
	ctx, stop := context.WithCancel(o.ctx)
	o.stop = stop
	for _, k := range o.kinds {
		ki, err := o.i.newKindInformer(k)
		if err != nil {
			// Only possible on a programming error: the informer is new.
			o.i.logger.Error("Cannot build informer", zap.String("kind", k.Name), zap.Error(err))
			continue
		}
		o.running = append(o.running, ki)
		// The CRD informer's goroutine is running (this is its handler),
		// so the wait group is not at zero and Wait has not returned.
		o.i.run(ctx, ki)
	}
	// KubeOVNEnabled turns true only once these caches are complete; tell
	// the listeners again then, so they can act on it.
	synced := make([]cache.InformerSynced, len(o.running))
	for n, ki := range o.running {
		synced[n] = ki.informer.HasSynced
	}
	o.i.wg.Go(func() {
		if !cache.WaitForCacheSync(ctx.Done(), synced...) {
			return
		}
		o.mu.RLock()
		listeners := slices.Clone(o.listeners)
		o.mu.RUnlock()
		for _, f := range listeners {
			f(true)
		}
	})
}

// stopKinds stops the kube-ovn informers and drops what they and the LRU
// hold. o.mu is held.
func (o *kubeOVN) stopKinds() {
	if o.stop != nil {
		o.stop()
		o.stop = nil
	}
	o.running = nil
	for _, k := range o.kinds {
		o.i.lru.dropResource(k.GVR.GroupResource())
	}
}

// snapshot returns the running kube-ovn informers.
func (o *kubeOVN) snapshot() []*kindInformer {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.running
}

// informer returns the running informer of kind: a kube-ovn kind while
// kube-ovn is installed, or the CRD watch.
func (o *kubeOVN) informer(kind string) *kindInformer {
	if kind == KindCRD {
		return o.crd
	}
	for _, ki := range o.snapshot() {
		if ki.kind.Name == kind {
			return ki
		}
	}
	return nil
}

// KubeOVNEnabled implements Store: whether the CRD subnets.kubeovn.io exists
// and is not being deleted, as last acted on, and the kube-ovn kinds' caches
// have synced since. Always false without Config.WatchKubeOVN.
func (i *Informers) KubeOVNEnabled() bool {
	if i.ovn == nil {
		return false
	}
	i.ovn.mu.RLock()
	defer i.ovn.mu.RUnlock()
	if !i.ovn.enabled {
		return false
	}
	// Until the Subnet and Vpc caches are complete, decisions on them could
	// be wrong: kube-ovn counts as installed once they are.
	for _, ki := range i.ovn.running {
		if !ki.informer.HasSynced() {
			return false
		}
	}
	return true
}

// OnKubeOVNChange registers f to be called with the new state each time
// kube-ovn comes or goes, after the kube-ovn informers have been started or
// stopped, and once more with true when started ones have synced (only then
// does KubeOVNEnabled report true). Calls come from informer goroutines and
// must not block for long.
// Register before Start to see every change; the state before the first
// call is false. Without Config.WatchKubeOVN, f is never called.
func (i *Informers) OnKubeOVNChange(f func(enabled bool)) {
	if i.ovn == nil {
		return
	}
	i.ovn.mu.Lock()
	defer i.ovn.mu.Unlock()
	i.ovn.listeners = append(i.ovn.listeners, f)
}

// Subnets implements Store, sorted by name. A Subnet deleted between the
// cache lookup and its fetch is left out.
func (i *Informers) Subnets(ctx context.Context) ([]*Subnet, error) {
	return fetchSelected[*Subnet](ctx, i, KindSubnet, "", nil, decodeSubnet)
}

// VpcExists implements Store.
func (i *Informers) VpcExists(name string) bool {
	ki := i.informer(KindVpc)
	if ki == nil {
		return false
	}
	_, ok := ki.get("", name)
	return ok
}

func decodeSubnet(u *unstructured.Unstructured) (any, int64, error) {
	s := &Subnet{Name: strings.Clone(u.GetName())}
	switch p := nested(u.Object, "spec", "provider").(type) {
	case nil:
	case string:
		s.Provider = intern(p)
	default:
		return nil, 0, fmt.Errorf("spec.provider is a %T, not a string", p)
	}
	return s, int64(unsafe.Sizeof(*s)) + int64(len(s.Name)+len(s.Provider)), nil
}
