package informers_test

import (
	"context"
	"errors"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/lowmem/harvester-network-webhook/informers"
)

func TestReadyNamesUnsyncedKinds(t *testing.T) {
	md := metadatafake.NewSimpleMetadataClient(metadatafake.NewTestScheme())
	// The role lacks vlanstatuses: its list never succeeds.
	md.PrependReactor("list", "vlanstatuses", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(informers.VlanStatusesGVR.GroupResource(), "", errors.New("no RBAC"))
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
	if want := "informers not synced: VlanStatus"; err == nil || !errors.Is(err, context.DeadlineExceeded) || store.Ready().Error() != want {
		t.Errorf("WaitForSync = %v; Ready() = %v, want %q", err, store.Ready(), want)
	}
}
