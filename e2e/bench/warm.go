package main

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/lowmem/harvester-network-webhook/informers"
)

// warmAPIServer lists every kind a webhook may watch from the API server's
// watch cache (resourceVersion 0), which waits until that cache is filled.
// A freshly started API server builds the cache of a custom resource on its
// first request, reading all of it from etcd: without this, ready_seconds
// would measure the API server's start-up, which a production cluster has
// long finished.
// The lists are of metadata only: the watch cache ignores the limit at
// resourceVersion 0, and full L10 lists would be 400 MB of JSON.
func warmAPIServer(ctx context.Context, rc *rest.Config) (time.Duration, error) {
	md, err := metadata.NewForConfig(rc)
	if err != nil {
		return 0, err
	}
	began := time.Now()
	// The newest profile watches the most kinds; upstream also caches Secrets.
	gvrs := []schema.GroupVersionResource{informers.CRDsGVR, {Version: "v1", Resource: "secrets"}}
	for _, k := range informers.V18Kinds() {
		gvrs = append(gvrs, k.GVR)
	}
	for _, gvr := range gvrs {
		t := time.Now()
		_, err := md.Resource(gvr).List(ctx, metav1.ListOptions{ResourceVersion: "0", Limit: 1})
		if err != nil && !apierrors.IsNotFound(err) {
			return 0, fmt.Errorf("warm the API server's cache of %s: %w", gvr.GroupResource(), err)
		}
		if d := time.Since(t); d > time.Second {
			logf("  the API server's cache of %s took %.1f s", gvr.GroupResource(), d.Seconds())
		}
	}
	return time.Since(began), nil
}

// settle waits until the local API server's CPU use stays under a third of
// a core for three seconds in a row (at most five minutes): after a start it
// builds the OpenAPI documents of every CRD, which with L10's 300 large
// schemas keeps it busy for a minute or more and would slow whatever is
// measured next. Nothing to wait for without a pid (an existing cluster).
func settle(ctx context.Context, pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	began := time.Now()
	last, err := cpuSeconds(pid)
	if err != nil {
		return 0, err
	}
	quiet := 0
	for quiet < 3 && time.Since(began) < 5*time.Minute {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Second):
		}
		now, err := cpuSeconds(pid)
		if err != nil {
			return 0, err
		}
		if now-last < 1.0/3 {
			quiet++
		} else {
			quiet = 0
		}
		last = now
	}
	return time.Since(began), nil
}
