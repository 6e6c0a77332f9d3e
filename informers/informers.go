package informers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	watches  *refusedWatches

	startOnce sync.Once
	wg        sync.WaitGroup // informer goroutines
}

var _ Store = (*Informers)(nil)

// kindInformer is one watched kind.
type kindInformer struct {
	kind     Kind
	informer cache.SharedIndexInformer

	mu        sync.Mutex
	lastError string // why list/watch last failed, as logged; "" once synced
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
	watches := &refusedWatches{}
	i := &Informers{
		logger:   cfg.Logger,
		metadata: observedMetadata{cfg.Metadata, watches},
		dynamic:  observedDynamic{cfg.Dynamic, watches},
		watches:  watches,
		byName:   make(map[string]*kindInformer, len(cfg.Kinds)),
		lru:      newLRU(cfg.LRUBytes),
	}
	if cfg.REST != nil {
		wire, err := newWireClient(cfg.REST, watches)
		if err != nil {
			return nil, fmt.Errorf("informers: %w", err)
		}
		i.wire = wire
	}
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
		ki, err := i.newKindInformer(k, nil)
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

// newKindInformer builds the informer of k; tweak, if not nil, narrows its
// list and watch (metadata informers only).
func (i *Informers) newKindInformer(k Kind, tweak func(*metav1.ListOptions)) (*kindInformer, error) {
	indexers := cache.Indexers{}
	if k.Namespaced {
		indexers[cache.NamespaceIndex] = cache.MetaNamespaceIndexFunc
	}
	for _, key := range k.LabelIndexes {
		indexers[labelIndexName(key)] = labelIndexFunc(key)
	}

	var inf cache.SharedIndexInformer
	var transform cache.TransformFunc
	if k.projected() {
		indexers[indexQualifiedNetwork] = qualifiedNetworkIndex
		indexers[indexLocalNetwork] = localNetworkIndex
		p := &projector{kind: k.Name, path: k.NetworksPath, node: k.NodePath, logger: i.logger}
		transform = p.transform
		if i.wire != nil {
			lw, err := i.wire.listWatch(k, p)
			if err != nil {
				return nil, err
			}
			inf = cache.NewSharedIndexInformer(lw, &projection{}, 0, indexers)
		} else {
			r := i.dynamic.Resource(k.GVR).Namespace(metav1.NamespaceAll)
			inf = newInformer(i.dynamic, &cache.ListWatch{
				ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
					return r.List(ctx, o)
				},
				WatchFuncWithContext: r.Watch,
			}, &unstructured.Unstructured{}, indexers)
		}
	} else {
		r := i.metadata.Resource(k.GVR).Namespace(metav1.NamespaceAll)
		if tweak == nil {
			tweak = func(*metav1.ListOptions) {}
		}
		inf = newInformer(i.metadata, &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				tweak(&o)
				return r.List(ctx, o)
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				tweak(&o)
				return r.Watch(ctx, o)
			},
		}, &metav1.PartialObjectMetadata{}, indexers)
		transform = stripMetadata
	}
	if err := inf.SetTransform(transform); err != nil {
		return nil, err
	}
	ki := &kindInformer{kind: k, informer: inf}
	logger := i.logger.With(zap.String("kind", k.Name))
	if err := inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		ki.watchError(logger, err)
	}); err != nil {
		return nil, err
	}
	if k.FullOnDemand {
		if _, err := inf.AddEventHandler(i.evictionHandler(k)); err != nil {
			return nil, err
		}
	}
	return ki, nil
}

// newInformer builds a cluster-wide informer without resync, as
// metadatainformer and dynamicinformer do. Those packages are not used
// because they import client-go's generated informer factory and clientset,
// which register every built-in API group at start-up (about 9 MiB of RSS).
func newInformer(client any, lw *cache.ListWatch, example runtime.Object, indexers cache.Indexers) cache.SharedIndexInformer {
	return cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, client), example, 0, indexers)
}

// watchError replaces client-go's klog output for list/watch failures. A
// missing permission or CRD would otherwise leave the webhook waiting for its
// caches without a word (as upstream does): it is logged once, in words that
// say what to fix, and kept for Ready until the kind syncs. The reflector
// keeps retrying, so granting the permission or installing the CRD is enough.
func (ki *kindInformer) watchError(logger *zap.Logger, err error) {
	if errors.Is(err, io.EOF) || apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
		logger.Debug("Watch closed", zap.Error(err))
		return
	}
	msg := ki.kind.describeError(err)
	ki.mu.Lock()
	repeated := msg == ki.lastError
	ki.lastError = msg
	ki.mu.Unlock()
	if repeated {
		logger.Debug(msg)
		return
	}
	// Warn, not Error: zap's production config adds a stack trace to errors,
	// and this line must stay one readable line.
	logger.Warn(msg)
}

// describeError says why listing or watching k failed and what fixes it.
func (k Kind) describeError(err error) string {
	what := k.GVR.GroupVersion().String() + " " + k.GVR.Resource
	switch {
	case apierrors.IsForbidden(err):
		verbs := strings.Join(k.Verbs(), ", ")
		reason := err.Error()
		var status apierrors.APIStatus
		if errors.As(err, &status) {
			reason = status.Status().Message // without client-go's "failed to list" prefix
		}
		if m := forbiddenUser.FindStringSubmatch(reason); m != nil {
			return fmt.Sprintf("cannot list/watch %s: forbidden for %s; grant %s", what, m[1], verbs)
		}
		return fmt.Sprintf("cannot list/watch %s: forbidden (%s); grant %s", what, reason, verbs)
	case apierrors.IsNotFound(err) && k.GVR.Group != "":
		return fmt.Sprintf("cannot list/watch %s: the CRD %s is not installed", what, k.CRDName())
	default:
		return fmt.Sprintf("cannot list/watch %s: %v", what, err)
	}
}

// forbiddenUser finds the user in the API server's Forbidden message
// (User "system:serviceaccount:ns:name" cannot list resource ...).
var forbiddenUser = regexp.MustCompile(`User "([^"]*)" cannot`)

// reportSynced waits until ki has synced and may watch, then clears its
// error, logging the recovery if there was one.
func (ki *kindInformer) reportSynced(ctx context.Context, logger *zap.Logger, refused func() bool) {
	began := time.Now()
	select {
	case <-ki.informer.HasSyncedChecker().Done():
	case <-ctx.Done():
		return
	}
	for refused() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	ki.mu.Lock()
	had := ki.lastError != ""
	ki.lastError = ""
	ki.mu.Unlock()
	if had {
		logger.Info("Cache synced after earlier list/watch failures", zap.String("kind", ki.kind.Name))
	}
	if ce := logger.Check(zap.DebugLevel, "Cache synced"); ce != nil {
		ce.Write(zap.String("kind", ki.kind.Name), zap.Int("objects", len(ki.informer.GetStore().ListKeys())),
			zap.Duration("after", time.Since(began)))
	}
}

// pending is ki's entry in Ready's list: its name, and why when known.
func (ki *kindInformer) pending() string {
	ki.mu.Lock()
	defer ki.mu.Unlock()
	if ki.lastError == "" {
		return ki.kind.Name
	}
	return ki.kind.Name + " (" + ki.lastError + ")"
}

// run runs ki until ctx is done.
func (i *Informers) run(ctx context.Context, ki *kindInformer) {
	i.wg.Go(func() { ki.informer.RunWithContext(ctx) })
	i.wg.Go(func() {
		ki.reportSynced(ctx, i.logger, func() bool { return i.watches.isRefused(ki.kind.GVR) })
	})
}

// evictionHandler drops cached full objects of kind k as soon as the metadata
// informer sees them change or go. The resourceVersion check in get is what
// guarantees freshness; this only frees memory early.
func (i *Informers) evictionHandler(k Kind) cache.ResourceEventHandlerFuncs {
	gr := k.GVR.GroupResource()
	return cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) {
			if m, ok := obj.(metav1.Object); ok {
				i.lru.invalidate(lruKey{gr, m.GetNamespace(), m.GetName()}, m.GetResourceVersion())
			}
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if m, ok := obj.(metav1.Object); ok {
				i.lru.invalidate(lruKey{gr, m.GetNamespace(), m.GetName()}, "")
			}
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

// WaitForSync blocks until every informer has synced and may watch, or ctx is done; the
// error then names the kinds that have not. With WatchKubeOVN, that includes
// the kube-ovn presence and, when kube-ovn is installed, its kinds.
func (i *Informers) WaitForSync(ctx context.Context) error {
	var checkers []cache.DoneChecker
	for _, ki := range i.kinds {
		checkers = append(checkers, ki.informer.HasSyncedChecker())
	}
	if i.ovn != nil {
		// The handler has seen the initial list, so the kube-ovn kinds
		// are started if the CRD exists; wait for those next.
		checkers = append(checkers, i.ovn.crd.informer.HasSyncedChecker(), i.ovn.registration.HasSyncedChecker())
	}
	if err := waitDone(ctx, checkers); err != nil {
		return i.notReady(err)
	}
	if i.ovn != nil {
		checkers = checkers[:0]
		for _, ki := range i.ovn.snapshot() {
			checkers = append(checkers, ki.informer.HasSyncedChecker())
		}
		if err := waitDone(ctx, checkers); err != nil {
			return i.notReady(err)
		}
	}
	// A kind whose WATCH is refused may have synced from a LIST: wait until
	// it may watch too (see refusedWatches).
	for i.Ready() != nil {
		select {
		case <-ctx.Done():
			return i.notReady(context.Cause(ctx))
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// waitDone waits for every checker, or returns the cause of ctx.
func waitDone(ctx context.Context, checkers []cache.DoneChecker) error {
	for _, c := range checkers {
		select {
		case <-c.Done():
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

// notReady is WaitForSync's error once ctx is done: Ready's, or nil if
// everything synced meanwhile.
func (i *Informers) notReady(cause error) error {
	if err := i.Ready(); err != nil {
		return fmt.Errorf("%w: %w", err, cause)
	}
	return nil
}

// Synced reports whether every informer has completed its initial list.
func (i *Informers) Synced() bool { return i.Ready() == nil }

// Ready returns nil once every informer has synced and may watch, or an
// error naming the kinds that have not (for /readyz), each with why its last
// list or watch failed, if it did. The kube-ovn kinds count while they run.
func (i *Informers) Ready() error {
	var pending []string
	for _, ki := range i.kinds {
		if !ki.informer.HasSynced() || i.watches.isRefused(ki.kind.GVR) {
			pending = append(pending, ki.pending())
		}
	}
	if i.ovn != nil {
		crd := i.ovn.crd
		if !crd.informer.HasSynced() || !i.ovn.registration.HasSynced() || i.watches.isRefused(crd.kind.GVR) {
			pending = append(pending, crd.pending())
		}
		for _, ki := range i.ovn.snapshot() {
			if !ki.informer.HasSynced() || i.watches.isRefused(ki.kind.GVR) {
				pending = append(pending, ki.pending())
			}
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("informers not synced: %s", strings.Join(pending, ", "))
	}
	return nil
}

// CacheStats returns the counters of the full-object LRU.
func (i *Informers) CacheStats() LRUStats { return i.lru.snapshot() }

// Counts returns the number of cached objects per kind name, for the kinds
// running now (the kube-ovn kinds only while kube-ovn is installed).
func (i *Informers) Counts() map[string]int {
	out := make(map[string]int, len(i.kinds)+3)
	for _, ki := range i.kinds {
		out[ki.kind.Name] = len(ki.informer.GetIndexer().ListKeys())
	}
	if i.ovn != nil {
		out[KindCRD] = len(i.ovn.crd.informer.GetIndexer().ListKeys())
		for _, ki := range i.ovn.snapshot() {
			out[ki.kind.Name] = len(ki.informer.GetIndexer().ListKeys())
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
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	obj, ok, err := ki.informer.GetIndexer().GetByKey(key)
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
