package informers_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/lowmem/harvester-network-webhook/informers"
)

func TestReadyNamesUnsyncedKinds(t *testing.T) {
	md := metadatafake.NewSimpleMetadataClient(metadatafake.NewTestScheme())
	// The role lacks vlanstatuses: its list never succeeds.
	md.PrependReactor("list", "vlanstatuses", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(informers.VlanStatusesGVR.GroupResource(), "", errors.New(`User "system:serviceaccount:harvester-system:harvester-network-webhook" cannot list resource "vlanstatuses"`))
	})
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{informers.VMIsGVR: "VirtualMachineInstanceList"})
	store, err := informers.New(informers.Config{Metadata: md, Dynamic: dyn})
	if err != nil {
		t.Fatal(err)
	}

	want := "informers not synced: Node, NetworkAttachmentDefinition, ClusterNetwork, VlanConfig, VlanStatus, VirtualMachineInstance"
	if err := store.Ready(); err == nil || err.Error() != want || store.Synced() {
		t.Fatalf("before start: Ready() = %v, want %q", err, want)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer func() { cancel(); store.Wait() }()
	store.Start(ctx)
	waitCtx, waitCancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer waitCancel()
	err = store.WaitForSync(waitCtx)
	if want := "informers not synced: VlanStatus (cannot list/watch network.harvesterhci.io/v1beta1 vlanstatuses: " +
		"forbidden for system:serviceaccount:harvester-system:harvester-network-webhook; grant get, list, watch)"; err == nil || !errors.Is(err, context.DeadlineExceeded) || store.Ready().Error() != want {
		t.Errorf("WaitForSync = %v; Ready() = %v, want %q", err, store.Ready(), want)
	}
}

// A kind whose CRD is not installed names the CRD in Ready, and recovers
// once its list succeeds.
func TestReadyNamesMissingCRD(t *testing.T) {
	md := metadatafake.NewSimpleMetadataClient(metadatafake.NewTestScheme())
	var installed atomic.Bool
	md.PrependReactor("list", "vlanconfigs", func(clienttesting.Action) (bool, runtime.Object, error) {
		if installed.Load() {
			return false, nil, nil
		}
		return true, nil, apierrors.NewNotFound(schema.GroupResource{}, "")
	})
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{informers.VMIsGVR: "VirtualMachineInstanceList"})
	store, err := informers.New(informers.Config{Metadata: md, Dynamic: dyn})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer func() { cancel(); store.Wait() }()
	store.Start(ctx)
	waitCtx, waitCancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer waitCancel()
	_ = store.WaitForSync(waitCtx)
	want := "informers not synced: VlanConfig (cannot list/watch network.harvesterhci.io/v1beta1 vlanconfigs: " +
		"the CRD vlanconfigs.network.harvesterhci.io is not installed)"
	if err := store.Ready(); err == nil || err.Error() != want {
		t.Fatalf("Ready() = %v, want %q", err, want)
	}
	// The reflector retries after a backoff of about a second.
	installed.Store(true)
	waitCtx, waitCancel = context.WithTimeout(ctx, 10*time.Second)
	defer waitCancel()
	if err := store.WaitForSync(waitCtx); err != nil {
		t.Fatalf("after the CRD appeared: %v", err)
	}
}

// Without the watch verb, client-go still fills the cache from a LIST and
// calls it synced; the kind must not count as ready until it may watch.
func TestReadyRequiresAWatch(t *testing.T) {
	md := metadatafake.NewSimpleMetadataClient(metadatafake.NewTestScheme())
	var granted atomic.Bool
	md.PrependWatchReactor("vlanconfigs", func(clienttesting.Action) (bool, watch.Interface, error) {
		if granted.Load() {
			return false, nil, nil
		}
		return true, nil, apierrors.NewForbidden(informers.VlanConfigsGVR.GroupResource(), "", errors.New(`User "system:serviceaccount:harvester-system:harvester-network-webhook" cannot watch resource "vlanconfigs"`))
	})
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{informers.VMIsGVR: "VirtualMachineInstanceList"})
	store, err := informers.New(informers.Config{Metadata: md, Dynamic: dyn})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer func() { cancel(); store.Wait() }()
	store.Start(ctx)

	waitCtx, waitCancel := context.WithTimeout(ctx, time.Second)
	defer waitCancel()
	if err := store.WaitForSync(waitCtx); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitForSync = %v, want a time-out while vlanconfigs may not be watched", err)
	}
	if err := store.Ready(); err == nil || !strings.Contains(err.Error(), "VlanConfig") {
		t.Fatalf("Ready() = %v, want VlanConfig named", err)
	}

	granted.Store(true)
	// The reflector retries the watch after its back-off (up to a few s).
	if err := store.WaitForSync(ctx); err != nil {
		t.Fatalf("after the watch is granted: WaitForSync = %v", err)
	}
}

// A kind whose watch keeps failing after the cache synced (the API server
// gone) stops being ready after the grace period, says why, and is ready
// again once a watch starts; the restart is counted.
func TestReadyFollowsFailingWatches(t *testing.T) {
	md := metadatafake.NewSimpleMetadataClient(metadatafake.NewTestScheme())
	var broken atomic.Bool
	watchers := make(chan *watch.FakeWatcher, 10)
	md.PrependWatchReactor("vlanconfigs", func(clienttesting.Action) (bool, watch.Interface, error) {
		if broken.Load() {
			return true, nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
		}
		w := watch.NewFake()
		watchers <- w
		return true, w, nil
	})
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{informers.VMIsGVR: "VirtualMachineInstanceList"})
	store, err := informers.New(informers.Config{Metadata: md, Dynamic: dyn, WatchFailureGrace: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer func() { cancel(); store.Wait() }()
	store.Start(ctx)
	if err := store.WaitForSync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := store.WatchRestarts()["VlanConfig"]; n != 0 {
		t.Errorf("restarts before any failure: %d", n)
	}

	broken.Store(true)
	(<-watchers).Stop() // the API server goes away: the watch ends, the next ones fail
	eventually(t, 10*time.Second, func() error {
		err := store.Ready()
		if err == nil || !strings.Contains(err.Error(), "VlanConfig (list/watch failing for") ||
			!strings.Contains(err.Error(), "connection refused") {
			return fmt.Errorf("Ready() = %w, want VlanConfig failing with the reason", err)
		}
		return nil
	})

	broken.Store(false)
	eventually(t, 40*time.Second, store.Ready)
	if n := store.WatchRestarts()["VlanConfig"]; n < 1 {
		t.Errorf("restarts after a failure: %d, want at least 1", n)
	}
}

// eventually polls check every 50 ms until it passes or timeout.
func eventually(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
