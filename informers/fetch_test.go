package informers_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"github.com/lowmem/harvester-network-webhook/informers"
	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

// stalledGets makes every GET of resource wait for release (or the test's
// end) before the fake API server answers it.
type stalledGets struct {
	release           chan struct{}
	started, answered atomic.Int64
}

func stallGets(t *testing.T, c *informerstest.Cluster, resource string) *stalledGets {
	s := &stalledGets{release: make(chan struct{})}
	done := t.Context().Done()
	c.Dynamic.PrependReactor("get", resource, func(clienttesting.Action) (bool, runtime.Object, error) {
		s.started.Add(1)
		select {
		case <-s.release:
		case <-done:
		}
		s.answered.Add(1)
		return false, nil, nil // the tracker answers
	})
	return s
}

// Reviews that miss the same object at once share one GET.
func TestConcurrentMissesOfOneObjectShareAGET(t *testing.T) {
	c := informerstest.New(t, informers.Config{}, clusterNetwork("data", "True"))
	gets := stallGets(t, c, "clusternetworks")
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			cn, err := c.Store.ClusterNetwork(t.Context(), "data")
			if err == nil && !cn.Ready {
				err = fmt.Errorf("ClusterNetwork = %+v, want ready", cn)
			}
			errs <- err
		})
	}
	waitFor(t, "the first GET", func() bool { return gets.started.Load() == 1 })
	time.Sleep(50 * time.Millisecond) // the others are waiting now
	close(gets.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := c.Gets(informers.KindClusterNetwork); n != 1 {
		t.Errorf("%d GETs for 20 concurrent misses, want 1", n)
	}
}

// A review stops waiting for a GET at its deadline, with an error naming
// the object, never an answer without it; the GET goes on and fills the
// cache for the next review.
func TestAGETPastTheReviewsDeadlineNamesTheObject(t *testing.T) {
	c := informerstest.New(t, informers.Config{}, clusterNetwork("data", "True"))
	gets := stallGets(t, c, "clusternetworks")
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := c.Store.ClusterNetwork(ctx, "data")
	took := time.Since(began)
	want := "cannot read clusternetworks.network.harvesterhci.io data from the API server: context deadline exceeded"
	if err == nil || err.Error() != want || apierrors.IsNotFound(err) {
		t.Errorf("error %v, want %q", err, want)
	}
	if took > time.Second {
		t.Errorf("returned after %s, want at the 100 ms deadline", took)
	}
	close(gets.release)
	waitFor(t, "the GET to end", func() bool { return gets.answered.Load() == 1 })
	waitFor(t, "the LRU to be filled", func() bool { return c.Store.CacheStats().Entries == 1 })
	if cn, err := c.Store.ClusterNetwork(t.Context(), "data"); err != nil || !cn.Ready || c.Gets(informers.KindClusterNetwork) != 1 {
		t.Errorf("next lookup: %+v, %v after %d GETs; want it from the cache", cn, err, c.Gets(informers.KindClusterNetwork))
	}
	if _, err := c.Store.ClusterNetwork(ctx, "data"); err != nil {
		t.Errorf("a cached object is served past a deadline: %v", err)
	}
}

// The misses of one lookup are fetched concurrently, a few at a time, and
// come back in order.
func TestIndependentMissesAreFetchedConcurrently(t *testing.T) {
	const n, delay = 10, 50 * time.Millisecond
	var objs []*unstructured.Unstructured
	for i := range n {
		objs = append(objs, vlanConfig(fmt.Sprintf("vc-%02d", i), "data", 1500))
	}
	c := informerstest.New(t, informers.Config{}, objs...)
	c.DelayGets(delay)
	began := time.Now()
	vcs, err := c.Store.VlanConfigs(t.Context(), "data")
	took := time.Since(began)
	if err != nil || len(vcs) != n {
		t.Fatalf("VlanConfigs = %d, %v; want %d", len(vcs), err, n)
	}
	for i, vc := range vcs {
		if want := fmt.Sprintf("vc-%02d", i); vc.Name != want {
			t.Errorf("VlanConfigs[%d] = %s, want %s", i, vc.Name, want)
		}
	}
	if p := c.PeakGets(); p != 4 {
		t.Errorf("%d GETs at once, want 4", p)
	}
	if took > n*delay/2 {
		t.Errorf("%d misses of %s each took %s", n, delay, took)
	}
}

// A GET that fails is an error naming the object, not an object left out:
// leaving it out could allow what it would deny.
func TestAFailedGETIsAnErrorNotAShorterList(t *testing.T) {
	c := informerstest.New(t, informers.Config{}, vlanConfig("vc-a", "data", 1500), vlanConfig("vc-b", "data", 9000))
	c.Dynamic.PrependReactor("get", "vlanconfigs", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.(clienttesting.GetAction).GetName() == "vc-b" {
			return true, nil, apierrors.NewServiceUnavailable("etcd is down")
		}
		return false, nil, nil
	})
	vcs, err := c.Store.VlanConfigs(t.Context(), "data")
	if err == nil || !strings.Contains(err.Error(), "cannot read vlanconfigs.network.harvesterhci.io vc-b from the API server: etcd is down") {
		t.Errorf("VlanConfigs = %d, %v; want an error naming vc-b", len(vcs), err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// FirstVlanConfig fetches the first VlanConfig of the cluster network, by
// name, and no other: one gone before its fetch is passed over, and the
// others are never read, so a failure to read them does not matter.
func TestFirstVlanConfigFetchesOnlyTheFirst(t *testing.T) {
	objs := []*unstructured.Unstructured{vlanConfig("vc-b", "data", 9000), vlanConfig("vc-a", "data", 1500),
		vlanConfig("vc-c", "data", 1400), vlanConfig("vc-0", "other", 1600)}
	c := informerstest.New(t, informers.Config{}, objs...)
	vc, err := c.Store.FirstVlanConfig(t.Context(), "data")
	if err != nil || vc == nil || vc.Name != "vc-a" || vc.Spec.Uplink.LinkAttributes.MTU != 1500 {
		t.Fatalf("FirstVlanConfig(data) = %+v, %v; want vc-a with MTU 1500", vc, err)
	}
	if n := c.Gets(informers.KindVlanConfig); n != 1 {
		t.Errorf("%d GETs, want 1", n)
	}
	if vc, err := c.Store.FirstVlanConfig(t.Context(), "none"); vc != nil || err != nil {
		t.Errorf("FirstVlanConfig(none) = %+v, %v; want nil", vc, err)
	}

	c = informerstest.New(t, informers.Config{}, objs...)
	c.Dynamic.PrependReactor("get", "vlanconfigs", func(a clienttesting.Action) (bool, runtime.Object, error) {
		switch a.(clienttesting.GetAction).GetName() {
		case "vc-a":
			return true, nil, apierrors.NewNotFound(informers.VlanConfigsGVR.GroupResource(), "vc-a")
		case "vc-c":
			return true, nil, apierrors.NewServiceUnavailable("etcd is down")
		}
		return false, nil, nil
	})
	if vc, err := c.Store.FirstVlanConfig(t.Context(), "data"); err != nil || vc == nil || vc.Name != "vc-b" {
		t.Errorf("FirstVlanConfig(data) with vc-a gone = %+v, %v; want vc-b", vc, err)
	}
}
