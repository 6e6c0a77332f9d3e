package informers

import (
	"context"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/util/watchlist"
)

// watchTracker follows the WATCH requests of every resource: how many
// started, whether the last was refused, and since when the resource has
// had no running watch (its list/watch failing, or the last watch over).
//
// A refused WATCH (403, or 404 for a missing CRD) makes the kind not ready:
// when only the watch verb is missing, client-go falls back from the refused
// streaming watch to a LIST and counts the cache as synced although every
// later WATCH fails, so its data would only be as fresh as the reflector's
// retries. A kind whose list/watch has been failing for longer than a grace
// period (the API server unreachable, say) is not ready either: its cache
// no longer follows the cluster. A WATCH that starts clears both.
type watchTracker struct {
	mu    sync.RWMutex
	state map[schema.GroupVersionResource]*watchState
	now   func() time.Time
}

type watchState struct {
	starts       int64 // WATCH requests that succeeded
	refused      bool
	failingSince time.Time // zero while the last WATCH runs
}

func newWatchTracker() *watchTracker {
	return &watchTracker{state: map[schema.GroupVersionResource]*watchState{}, now: time.Now}
}

// get returns gvr's state; r.mu must be held for writing.
func (r *watchTracker) get(gvr schema.GroupVersionResource) *watchState {
	st := r.state[gvr]
	if st == nil {
		st = &watchState{}
		r.state[gvr] = st
	}
	return st
}

// started records the outcome of a WATCH request and returns the watch
// wrapped, so that its end is recorded too: a watch the API server closed
// (or cut) leaves no error behind, and until the next one starts the cache
// does not follow the cluster.
func (r *watchTracker) started(gvr schema.GroupVersionResource, w watch.Interface, err error) (watch.Interface, error) {
	gen := r.observe(gvr, err)
	if err != nil {
		return w, err
	}
	return &trackedWatch{Interface: w, end: func() { r.ended(gvr, gen) }}, nil
}

// observe records the outcome of a WATCH request and returns, for one that
// started, its number.
func (r *watchTracker) observe(gvr schema.GroupVersionResource, err error) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.get(gvr)
	if err == nil {
		st.starts++
		st.refused, st.failingSince = false, time.Time{}
		return st.starts
	}
	if apierrors.IsForbidden(err) || apierrors.IsNotFound(err) {
		st.refused = true // a transient failure says nothing about permission
	}
	if st.failingSince.IsZero() {
		st.failingSince = r.now()
	}
	return 0
}

// ended records that watch number gen of gvr is over, unless a newer one
// has started meanwhile.
func (r *watchTracker) ended(gvr schema.GroupVersionResource, gen int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.get(gvr); st.starts == gen && st.failingSince.IsZero() {
		st.failingSince = r.now()
	}
}

// trackedWatch reports its end; the reflector stops every watch it is done
// with.
type trackedWatch struct {
	watch.Interface
	once sync.Once
	end  func()
}

func (w *trackedWatch) Stop() {
	w.once.Do(w.end)
	w.Interface.Stop()
}

// failed records a failed list or watch the reflector reported (a LIST that
// fails makes no WATCH request).
func (r *watchTracker) failed(gvr schema.GroupVersionResource) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.get(gvr); st.failingSince.IsZero() {
		st.failingSince = r.now()
	}
}

// watching tells whether a WATCH of gvr has started and the last one was
// not refused.
func (r *watchTracker) watching(gvr schema.GroupVersionResource) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	st := r.state[gvr]
	return st != nil && st.starts > 0 && !st.refused
}

// failingFor returns how long gvr's list/watch has been failing; 0 if it
// is not.
func (r *watchTracker) failingFor(gvr schema.GroupVersionResource) time.Duration {
	r.mu.RLock()
	defer r.mu.RUnlock()
	st := r.state[gvr]
	if st == nil || st.failingSince.IsZero() {
		return 0
	}
	return r.now().Sub(st.failingSince)
}

// restarts returns the WATCH requests of gvr after the first that succeeded.
func (r *watchTracker) restarts(gvr schema.GroupVersionResource) int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if st := r.state[gvr]; st != nil && st.starts > 1 {
		return st.starts - 1
	}
	return 0
}

// watchListUnsupported forwards client-go's WatchList capability probe
// through the wrappers below (fake clients answer true).
func watchListUnsupported(client any) bool {
	return watchlist.DoesClientNotSupportWatchListSemantics(client)
}

// observedMetadata wraps a metadata client so that every WATCH's outcome
// reaches the watchTracker; the informers call Resource(gvr).Namespace(ns).Watch.
type observedMetadata struct {
	metadata.Interface
	seen *watchTracker
}

func (c observedMetadata) IsWatchListSemanticsUnSupported() bool {
	return watchListUnsupported(c.Interface)
}

func (c observedMetadata) Resource(gvr schema.GroupVersionResource) metadata.Getter {
	return observedMetadataResource{c.Interface.Resource(gvr), gvr, c.seen}
}

type observedMetadataResource struct {
	metadata.Getter
	gvr  schema.GroupVersionResource
	seen *watchTracker
}

func (r observedMetadataResource) Namespace(ns string) metadata.ResourceInterface {
	return observedMetadataNamespace{r.Getter.Namespace(ns), r.gvr, r.seen}
}

type observedMetadataNamespace struct {
	metadata.ResourceInterface
	gvr  schema.GroupVersionResource
	seen *watchTracker
}

func (r observedMetadataNamespace) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	w, err := r.ResourceInterface.Watch(ctx, opts)
	return r.seen.started(r.gvr, w, err)
}

// observedDynamic is observedMetadata for the dynamic client (projections).
type observedDynamic struct {
	dynamic.Interface
	seen *watchTracker
}

func (c observedDynamic) IsWatchListSemanticsUnSupported() bool {
	return watchListUnsupported(c.Interface)
}

func (c observedDynamic) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return observedDynamicResource{c.Interface.Resource(gvr), gvr, c.seen}
}

type observedDynamicResource struct {
	dynamic.NamespaceableResourceInterface
	gvr  schema.GroupVersionResource
	seen *watchTracker
}

func (r observedDynamicResource) Namespace(ns string) dynamic.ResourceInterface {
	return observedDynamicNamespace{r.NamespaceableResourceInterface.Namespace(ns), r.gvr, r.seen}
}

type observedDynamicNamespace struct {
	dynamic.ResourceInterface
	gvr  schema.GroupVersionResource
	seen *watchTracker
}

func (r observedDynamicNamespace) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	w, err := r.ResourceInterface.Watch(ctx, opts)
	return r.seen.started(r.gvr, w, err)
}
