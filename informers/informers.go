package informers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Config configures New.
type Config struct {
	// Metadata lists and watches the metadata-only kinds. Required.
	Metadata metadata.Interface
	// Dynamic fetches full objects, and watches the projected kinds when
	// REST is nil. Required.
	Dynamic dynamic.Interface
	// REST, when set, lists and watches the projected kinds (VMIs, VMs)
	// over its HTTP client, decoding each object straight into its
	// projection (wire.go); the process sets it. Without it they come
	// through Dynamic as unstructured objects, which fake clients serve.
	REST *rest.Config
	// LRUBytes is the byte budget of the full-object cache; 0 means
	// DefaultLRUBytes.
	LRUBytes int64
	// Logger receives informer errors and debug notes; nil discards them.
	Logger *zap.Logger
	// Kinds are the watched kinds; nil means V14Kinds().
	Kinds []Kind
	// WatchKubeOVN watches the CRD subnets.kubeovn.io, and only that
	// object, to tell whether kube-ovn is installed; the kinds marked
	// KubeOVN run only while it is. Required when Kinds has such kinds.
	WatchKubeOVN bool
	// WatchFailureGrace is how long a kind's list/watch may fail before
	// Ready reports it; 0 means DefaultWatchFailureGrace.
	WatchFailureGrace time.Duration
	// Fetches, if set, observes every on-demand GET of a full object.
	Fetches FetchObserver
	// FetchTimeout bounds an on-demand GET; 0 means DefaultFetchTimeout.
	FetchTimeout time.Duration
	// Fetcher GETs full objects on demand. nil means a client of its own
	// built from REST, or Dynamic when REST is nil.
	Fetcher dynamic.Interface
}

// The on-demand GETs' client-side rate limit, on a client of their own
// (when Config.REST is set), so that the informers' lists and watches do not
// compete with the reviews for tokens. client-go's default, 5/s with a
// burst of 10, would queue a cold cache's misses for seconds; these are
// rare once the LRU is warm (one GET per object and resourceVersion,
// shared by concurrent reviews), and the API server's own flow control
// still applies.
const (
	fetchQPS   = 50
	fetchBurst = 100
)

// DefaultWatchFailureGrace tolerates an API server restart or a control
// plane node's failover, not an outage.
const DefaultWatchFailureGrace = 30 * time.Second

// FetchObserver observes the on-demand GETs of full objects (metrics).
type FetchObserver interface {
	ObserveFetch(kind string, d time.Duration, err error)
}

// Informers watches the configured kinds and implements Store over them.
// Create it with New, then Start it and wait for WaitForSync.
type Informers struct {
	logger   *zap.Logger
	metadata metadata.Interface
	dynamic  dynamic.Interface
	wire     *wireClient              // nil: projected kinds through dynamic
	kinds    []*kindInformer          // in Config.Kinds order, for Ready(); kube-ovn kinds excluded
	byName   map[string]*kindInformer // by Kind.Name, kube-ovn kinds excluded
	lru      *lru
	ovn      *kubeOVN // nil unless Config.WatchKubeOVN
	watches  *watchTracker
	grace    time.Duration
	fetches  FetchObserver
	// fetcher GETs full objects on demand, flights collapses concurrent
	// GETs of one object, and fetchTimeout bounds each.
	fetcher      dynamic.Interface
	flights      singleflight.Group
	fetchTimeout time.Duration

	startOnce sync.Once
	wg        sync.WaitGroup // informer goroutines
}

var _ Store = (*Informers)(nil)

// kindInformer is one watched kind.
type kindInformer struct {
	kind Kind
	// informer lists and watches the kind into its cache: indexer for a
	// metadata kind, projections for a projected one; the other is nil.
	informer    cache.Controller
	indexer     cache.Indexer
	projections *projectionStore
	// objects counts the cached objects, so that a scrape of the metrics
	// does not list every key: kept by the metadata informer's event
	// handler, or by the projection store.
	objects atomic.Int64
	// synced tells whether the cache holds the initial list whole: the
	// registration of that event handler, or the projected kind's
	// controller.
	synced syncChecker

	mu        sync.Mutex
	lastError string // why list/watch last failed, as logged; "" once synced
}

// syncChecker tells whether a cache has seen its initial list.
type syncChecker interface {
	HasSynced() bool
	HasSyncedChecker() cache.DoneChecker
}

// New builds the informers of cfg.Kinds without contacting the API server.
func New(cfg Config) (*Informers, error) {
	if cfg.Metadata == nil || cfg.Dynamic == nil {
		return nil, errors.New("informers: Metadata and Dynamic clients are required")
	}
	if cfg.LRUBytes < 0 {
		return nil, fmt.Errorf("informers: negative LRU budget %d", cfg.LRUBytes)
	}
	if cfg.LRUBytes == 0 {
		cfg.LRUBytes = DefaultLRUBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Kinds == nil {
		cfg.Kinds = V14Kinds()
	}
	if cfg.WatchFailureGrace <= 0 {
		cfg.WatchFailureGrace = DefaultWatchFailureGrace
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	watches := newWatchTracker()
	i := &Informers{
		logger:   cfg.Logger,
		metadata: observedMetadata{cfg.Metadata, watches},
		dynamic:  observedDynamic{cfg.Dynamic, watches},
		watches:  watches,
		grace:    cfg.WatchFailureGrace,
		fetches:  cfg.Fetches,
		fetcher:  cfg.Dynamic,
		byName:   make(map[string]*kindInformer, len(cfg.Kinds)),
		lru:      newLRU(cfg.LRUBytes),
	}
	if cfg.REST != nil {
		wire, err := newWireClient(cfg.REST, watches)
		if err != nil {
			return nil, fmt.Errorf("informers: %w", err)
		}
		i.wire = wire
		fc := rest.CopyConfig(cfg.REST)
		fc.QPS, fc.Burst = fetchQPS, fetchBurst
		if i.fetcher, err = dynamic.NewForConfig(fc); err != nil {
			return nil, fmt.Errorf("informers: %w", err)
		}
	}
	if cfg.Fetcher != nil {
		i.fetcher = cfg.Fetcher
	}
	i.fetchTimeout = cfg.FetchTimeout
	var ovnKinds []Kind
	seen := make(map[string]bool, len(cfg.Kinds))
	for _, k := range cfg.Kinds {
		if k.Name == "" || k.GVR.Resource == "" {
			return nil, fmt.Errorf("informers: kind %q has no name or resource", k.Name)
		}
		if seen[k.Name] || k.Name == KindCRD {
			return nil, fmt.Errorf("informers: kind %s listed twice", k.Name)
		}
		seen[k.Name] = true
		if k.KubeOVN {
			if !cfg.WatchKubeOVN {
				return nil, fmt.Errorf("informers: kind %s needs WatchKubeOVN", k.Name)
			}
			ovnKinds = append(ovnKinds, k)
			continue
		}
		ki, err := i.newKindInformer(k)
		if err != nil {
			return nil, fmt.Errorf("informers: %s: %w", k.Name, err)
		}
		i.kinds = append(i.kinds, ki)
		i.byName[k.Name] = ki
	}
	if cfg.WatchKubeOVN {
		ovn, err := i.newKubeOVN(ovnKinds)
		if err != nil {
			return nil, fmt.Errorf("informers: %s: %w", KindCRD, err)
		}
		i.ovn = ovn
	}
	return i, nil
}

// newKindInformer builds the informer of k.
func (i *Informers) newKindInformer(k Kind) (*kindInformer, error) {
	if k.projected() {
		return i.newProjectedKindInformer(k)
	}
	ki, _, err := i.newMetadataInformer(k, nil)
	return ki, err
}

// newProjectedKindInformer builds the informer of projected kind k.
func (i *Informers) newProjectedKindInformer(k Kind) (*kindInformer, error) {
	p := &projector{kind: k.Name, path: k.NetworksPath, node: k.NodePath, logger: i.logger}
	var lw cache.ListerWatcher
	var example runtime.Object = &projection{}
	if i.wire != nil {
		var err error
		if lw, err = i.wire.listWatch(k, p); err != nil {
			return nil, err
		}
	} else {
		r := i.dynamic.Resource(k.GVR).Namespace(metav1.NamespaceAll)
		lw = cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				return r.List(ctx, o)
			},
			WatchFuncWithContext: r.Watch,
		}, i.dynamic)
		example = &unstructured.Unstructured{}
	}
	ki := &kindInformer{kind: k}
	ki.projections = newProjectionStore(&ki.objects)
	logger := i.logger.With(zap.String("kind", k.Name))
	ctrl := newProjectedInformer(ki.projections, lw, example, p.transform, func(err error) {
		ki.watchError(logger, i.watches, err)
	})
	ki.informer, ki.synced = ctrl, ctrl
	return ki, nil
}

// newMetadataInformer builds the informer of metadata kind k; tweak, if not
// nil, narrows its list and watch. It returns the shared informer too, for
// more event handlers.
func (i *Informers) newMetadataInformer(k Kind, tweak func(*metav1.ListOptions)) (*kindInformer, cache.SharedIndexInformer, error) {
	indexers := cache.Indexers{}
	if k.Namespaced {
		indexers[cache.NamespaceIndex] = cache.MetaNamespaceIndexFunc
	}
	for _, key := range k.LabelIndexes {
		indexers[labelIndexName(key)] = labelIndexFunc(key)
	}
	r := i.metadata.Resource(k.GVR).Namespace(metav1.NamespaceAll)
	if tweak == nil {
		tweak = func(*metav1.ListOptions) {}
	}
	inf := newInformer(i.metadata, &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			tweak(&o)
			return r.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			tweak(&o)
			return r.Watch(ctx, o)
		},
	}, &metav1.PartialObjectMetadata{}, indexers)
	if err := inf.SetTransform(stripMetadata); err != nil {
		return nil, nil, err
	}
	ki := &kindInformer{kind: k, informer: inf, indexer: inf.GetIndexer()}
	logger := i.logger.With(zap.String("kind", k.Name))
	if err := inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		ki.watchError(logger, i.watches, err)
	}); err != nil {
		return nil, nil, err
	}
	handler, err := inf.AddEventHandler(i.eventHandler(ki))
	if err != nil {
		return nil, nil, err
	}
	ki.synced = handler
	return ki, inf, nil
}

// newInformer builds a cluster-wide metadata informer without resync, as
// metadatainformer does. That package is not used because it imports
// client-go's generated informer factory and clientset, which register every
// built-in API group at start-up (about 9 MiB of RSS).
func newInformer(client any, lw *cache.ListWatch, example runtime.Object, indexers cache.Indexers) cache.SharedIndexInformer {
	return cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, client), example, 0, indexers)
}

// run runs ki until ctx is done.
func (i *Informers) run(ctx context.Context, ki *kindInformer) {
	i.wg.Go(func() { ki.informer.RunWithContext(ctx) })
	i.wg.Go(func() {
		ki.reportSynced(ctx, i.logger, func() bool { return !i.watches.watching(ki.kind.GVR) })
	})
}

// eventHandler counts the objects of metadata kind ki and, for a kind
// fetched on demand, drops its cached full objects as soon as the metadata
// informer sees them change or go. The resourceVersion check in get is what
// guarantees freshness; eviction only frees memory early.
func (i *Informers) eventHandler(ki *kindInformer) cache.ResourceEventHandlerFuncs {
	gr := ki.kind.GVR.GroupResource()
	evict := func(obj any, rv string) {
		if m, ok := obj.(metav1.Object); ok && ki.kind.FullOnDemand {
			i.lru.invalidate(lruKey{gr, m.GetNamespace(), m.GetName()}, rv)
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { ki.objects.Add(1) },
		UpdateFunc: func(_, obj any) {
			if m, ok := obj.(metav1.Object); ok {
				evict(obj, m.GetResourceVersion())
			}
		},
		DeleteFunc: func(obj any) {
			ki.objects.Add(-1)
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			evict(obj, "")
		},
	}
}

// Start runs every informer until ctx is done. Only the first call has an
// effect. Wait returns when the informers have stopped.
func (i *Informers) Start(ctx context.Context) {
	i.startOnce.Do(func() {
		if i.ovn != nil {
			i.ovn.start(ctx)
		}
		for _, ki := range i.kinds {
			i.run(ctx, ki)
		}
	})
}

// Wait blocks until the informers started by Start have returned, which
// they do once Start's context is done.
func (i *Informers) Wait() { i.wg.Wait() }

// CacheStats returns the counters of the full-object LRU.
func (i *Informers) CacheStats() LRUStats { return i.lru.snapshot() }

// Counts returns the number of cached objects per kind name, for the kinds
// running now (the kube-ovn kinds only while kube-ovn is installed).
func (i *Informers) Counts() map[string]int {
	out := make(map[string]int, len(i.kinds)+3)
	for _, ki := range i.kinds {
		out[ki.kind.Name] = int(ki.objects.Load())
	}
	if i.ovn != nil {
		out[KindCRD] = int(i.ovn.crd.objects.Load())
		for _, ki := range i.ovn.snapshot() {
			out[ki.kind.Name] = int(ki.objects.Load())
		}
	}
	return out
}

// WatchRestarts returns, per kind running now, the WATCH requests that
// succeeded after the first: each one a watch the API server ended, or that
// failed, and was started again.
func (i *Informers) WatchRestarts() map[string]int64 {
	out := make(map[string]int64, len(i.kinds)+3)
	add := func(ki *kindInformer) { out[ki.kind.Name] = i.watches.restarts(ki.kind.GVR) }
	for _, ki := range i.kinds {
		add(ki)
	}
	if i.ovn != nil {
		add(i.ovn.crd)
		for _, ki := range i.ovn.snapshot() {
			add(ki)
		}
	}
	return out
}

// ResourceVersion returns the resourceVersion the cache holds for the named
// object of kind, and whether it holds it at all.
func (i *Informers) ResourceVersion(kind, namespace, name string) (string, bool) {
	ki := i.informer(kind)
	if ki == nil {
		return "", false
	}
	obj, ok := ki.get(namespace, name)
	if !ok {
		return "", false
	}
	return obj.GetResourceVersion(), true
}

// informer returns the running informer of kind, or nil when the profile
// does not watch it or, for a kube-ovn kind, kube-ovn is not installed.
func (i *Informers) informer(kind string) *kindInformer {
	if ki := i.byName[kind]; ki != nil {
		return ki
	}
	if i.ovn != nil {
		return i.ovn.informer(kind)
	}
	return nil
}

// get returns the cached object namespace/name (name alone if cluster-scoped).
func (ki *kindInformer) get(namespace, name string) (metav1.Object, bool) {
	if ki.projections != nil {
		p, ok := ki.projections.get(namespace, name)
		if !ok {
			return nil, false
		}
		return p, true
	}
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	obj, ok, err := ki.indexer.GetByKey(key)
	if err != nil || !ok {
		return nil, false
	}
	m, ok := obj.(metav1.Object)
	return m, ok
}

// labelIndexName is the indexer name for label key.
func labelIndexName(key string) string { return "label:" + key }

func labelIndexFunc(key string) cache.IndexFunc {
	return func(obj any) ([]string, error) {
		m, ok := obj.(metav1.Object)
		if !ok {
			return nil, nil
		}
		if v, ok := m.GetLabels()[key]; ok {
			return []string{v}, nil
		}
		return nil, nil
	}
}
