package main

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
	"github.com/lowmem/harvester-network-webhook/informers"
)

// warmAPIServer lists every kind a webhook may watch from the API server's
// watch cache (resourceVersion 0), which waits until that cache is filled.
// A freshly started API server builds the cache of a custom resource on its
// first request, reading all of it from etcd: without this, ready_seconds
// would measure the API server's start-up, which a production cluster has
// long finished.
func warmAPIServer(ctx context.Context, c *harness.Client) (time.Duration, error) {
	began := time.Now()
	// The newest profile watches the most kinds; upstream also caches Secrets.
	gvrs := []schema.GroupVersionResource{informers.CRDsGVR, {Version: "v1", Resource: "secrets"}}
	for _, k := range informers.V18Kinds() {
		gvrs = append(gvrs, k.GVR)
	}
	for _, gvr := range gvrs {
		_, err := c.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{ResourceVersion: "0", Limit: 1})
		if err != nil && !apierrors.IsNotFound(err) {
			return 0, fmt.Errorf("warm the API server's cache of %s: %w", gvr.GroupResource(), err)
		}
	}
	return time.Since(began), nil
}
