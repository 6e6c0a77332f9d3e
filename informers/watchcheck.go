package informers

import (
	"context"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/util/watchlist"
)

// refusedWatches remembers the resources whose last WATCH the API server
// refused (403, or 404 for a missing CRD). When only the watch verb is
// missing, client-go falls back from the refused streaming watch to a LIST
// and counts the cache as synced although every later WATCH fails: its data
// would only be as fresh as the reflector's retries. Ready therefore treats
// such a kind as not ready, until a WATCH succeeds.
type refusedWatches struct {
	mu      sync.RWMutex
	refused map[schema.GroupVersionResource]bool
}

func (r *refusedWatches) observe(gvr schema.GroupVersionResource, err error) {
	refused := apierrors.IsForbidden(err) || apierrors.IsNotFound(err)
	if err != nil && !refused {
		return // a transient failure says nothing about permission
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refused == nil {
		r.refused = map[schema.GroupVersionResource]bool{}
	}
	r.refused[gvr] = refused
}

func (r *refusedWatches) isRefused(gvr schema.GroupVersionResource) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.refused[gvr]
}

// watchListUnsupported forwards client-go's WatchList capability probe
// through the wrappers below (fake clients answer true).
func watchListUnsupported(client any) bool {
	return watchlist.DoesClientNotSupportWatchListSemantics(client)
}

// observedMetadata wraps a metadata client so that every WATCH's outcome
// reaches refusedWatches; the informers call Resource(gvr).Namespace(ns).Watch.
type observedMetadata struct {
	metadata.Interface
	seen *refusedWatches
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
	seen *refusedWatches
}

func (r observedMetadataResource) Namespace(ns string) metadata.ResourceInterface {
	return observedMetadataNamespace{r.Getter.Namespace(ns), r.gvr, r.seen}
}

type observedMetadataNamespace struct {
	metadata.ResourceInterface
	gvr  schema.GroupVersionResource
	seen *refusedWatches
}

func (r observedMetadataNamespace) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	w, err := r.ResourceInterface.Watch(ctx, opts)
	r.seen.observe(r.gvr, err)
	return w, err
}

// observedDynamic is observedMetadata for the dynamic client (projections).
type observedDynamic struct {
	dynamic.Interface
	seen *refusedWatches
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
	seen *refusedWatches
}

func (r observedDynamicResource) Namespace(ns string) dynamic.ResourceInterface {
	return observedDynamicNamespace{r.NamespaceableResourceInterface.Namespace(ns), r.gvr, r.seen}
}

type observedDynamicNamespace struct {
	dynamic.ResourceInterface
	gvr  schema.GroupVersionResource
	seen *refusedWatches
}

func (r observedDynamicNamespace) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	w, err := r.ResourceInterface.Watch(ctx, opts)
	r.seen.observe(r.gvr, err)
	return w, err
}
