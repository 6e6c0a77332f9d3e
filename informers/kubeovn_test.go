package informers_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/lowmem/harvester-network-webhook/informers"
	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

// recorder collects OnKubeOVNChange notifications.
type recorder struct {
	mu  sync.Mutex
	got []bool
}

func (r *recorder) note(enabled bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, enabled)
}

func (r *recorder) calls() []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func subnetNames(t *testing.T, store informers.Store) []string {
	t.Helper()
	subnets, err := store.Subnets(t.Context())
	if err != nil {
		t.Fatalf("Subnets(): %v", err)
	}
	var names []string
	for _, s := range subnets {
		names = append(names, s.Name+"="+s.Provider)
	}
	return names
}

func TestKubeOVNToggle(t *testing.T) {
	c := informerstest.NewVersion(t, 7, subnet("vswitch2", "vlan200.default.ovn"), subnet("vswitch1", "vlan100.default.ovn"),
		subnet("join", ""), vpc("vpc-1"))
	store := c.Store
	var rec recorder
	store.OnKubeOVNChange(rec.note)

	// Disabled: nothing of kube-ovn is listed or served.
	assertNoNewKinds(t, store, false)
	for _, res := range []string{"subnets", "vpcs"} {
		if n := c.ListsAndWatches(res); n != 0 {
			t.Errorf("while disabled, %d list/watch requests for %s, want none", n, res)
		}
	}
	if _, ok := store.Counts()[informers.KindSubnet]; ok {
		t.Errorf("while disabled, Counts() = %v has Subnets", store.Counts())
	}

	// The CRD appears: the kube-ovn informers start and count for Ready.
	c.EnableKubeOVN()
	if got, want := rec.calls(), []bool{true}; !reflect.DeepEqual(got, want) {
		t.Errorf("notifications = %v, want %v", got, want)
	}
	want := []string{"join=", "vswitch1=vlan100.default.ovn", "vswitch2=vlan200.default.ovn"}
	if got := subnetNames(t, store); !reflect.DeepEqual(got, want) {
		t.Errorf("Subnets() = %v, want %v", got, want)
	}
	if !store.VpcExists("vpc-1") || store.VpcExists("vpc-2") {
		t.Errorf("VpcExists(vpc-1), VpcExists(vpc-2) = %v, %v; want true, false", store.VpcExists("vpc-1"), store.VpcExists("vpc-2"))
	}
	if counts := store.Counts(); counts[informers.KindSubnet] != 3 || counts[informers.KindVpc] != 1 || counts[informers.KindCRD] != 1 {
		t.Errorf("Counts() = %v", counts)
	}
	if n := store.CacheStats().Entries; n != 3 {
		t.Errorf("%d Subnets in the LRU, want 3", n)
	}

	// Other changes of the CRD change nothing.
	relabelled := informerstest.KubeOVNCRD()
	relabelled.SetLabels(map[string]string{"app.kubernetes.io/managed-by": "Helm"})
	c.Update(relabelled)
	if got, want := rec.calls(), []bool{true}; !reflect.DeepEqual(got, want) {
		t.Errorf("after a CRD update, notifications = %v, want %v", got, want)
	}

	// The kube-ovn kinds follow changes while enabled.
	c.Create(vpc("vpc-2"))
	c.Update(subnet("vswitch2", "vlan201.default.ovn"))
	want = []string{"join=", "vswitch1=vlan100.default.ovn", "vswitch2=vlan201.default.ovn"}
	if got := subnetNames(t, store); !reflect.DeepEqual(got, want) || !store.VpcExists("vpc-2") {
		t.Errorf("after changes, Subnets() = %v, VpcExists(vpc-2) = %v; want %v, true", got, store.VpcExists("vpc-2"), want)
	}

	// The CRD goes: the informers stop and their caches go.
	c.DisableKubeOVN()
	if got, want := rec.calls(), []bool{true, false}; !reflect.DeepEqual(got, want) {
		t.Errorf("notifications = %v, want %v", got, want)
	}
	assertNoNewKinds(t, store, false)
	if n := store.CacheStats().Entries; n != 0 {
		t.Errorf("%d Subnets left in the LRU, want 0", n)
	}
	if _, ok := store.Counts()[informers.KindSubnet]; ok {
		t.Errorf("after disable, Counts() = %v has Subnets", store.Counts())
	}
	if err := store.Ready(); err != nil {
		t.Errorf("after disable, Ready() = %v", err)
	}
	// While disabled, changes are not followed (and need no waiting).
	c.Delete(subnet("join", ""))

	// Enabled again: fresh informers list the current state.
	lists := c.ListsAndWatches("subnets")
	c.EnableKubeOVN()
	if c.ListsAndWatches("subnets") <= lists {
		t.Error("enabling again did not list Subnets")
	}
	if got := subnetNames(t, store); !reflect.DeepEqual(got, want[1:]) {
		t.Errorf("re-enabled, Subnets() = %v, want %v", got, want[1:])
	}

	// A CRD being deleted counts as absent.
	deleting := informerstest.KubeOVNCRD()
	deleting.SetDeletionTimestamp(&metav1.Time{Time: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)})
	c.Update(deleting)
	if got, want := rec.calls(), []bool{true, false, true, false}; !reflect.DeepEqual(got, want) {
		t.Errorf("notifications = %v, want %v", got, want)
	}
	assertNoNewKinds(t, store, false)
}

// The presence watch asks only for the one CRD, by field selector.
func TestKubeOVNWatchesOneCRD(t *testing.T) {
	c := informerstest.NewVersion(t, 8, informerstest.KubeOVNCRD(), subnet("vswitch1", "vlan100.default.ovn"))
	if !c.Store.KubeOVNEnabled() {
		t.Fatal("CRD present at start, KubeOVNEnabled() = false")
	}
	if got := subnetNames(t, c.Store); len(got) != 1 {
		t.Errorf("Subnets() = %v, want one", got)
	}
	n := 0
	for _, a := range c.Metadata.Actions() {
		if a.GetResource() != informers.CRDsGVR {
			continue
		}
		n++
		var fields string
		switch a := a.(type) {
		case clienttesting.ListAction:
			fields = a.GetListRestrictions().Fields.String()
		case clienttesting.WatchAction:
			fields = a.GetWatchRestrictions().Fields.String()
		default:
			t.Errorf("unexpected %s of CRDs", a.GetVerb())
			continue
		}
		if want := "metadata.name=subnets.kubeovn.io"; fields != want {
			t.Errorf("%s of CRDs with field selector %q, want %q", a.GetVerb(), fields, want)
		}
	}
	if n == 0 {
		t.Error("no list or watch of CRDs")
	}
	for _, a := range c.Dynamic.Actions() {
		if a.GetResource() == informers.CRDsGVR {
			t.Errorf("dynamic %s of CRDs", a.GetVerb())
		}
	}
}

func TestSubnetProviderMalformed(t *testing.T) {
	bad := subnet("bad", "")
	bad.Object["spec"].(map[string]any)["provider"] = int64(1)
	c := informerstest.NewVersion(t, 6, informerstest.KubeOVNCRD(), bad)
	if _, err := c.Store.Subnets(t.Context()); err == nil {
		t.Error("Subnets() with a numeric provider succeeded")
	}
}

// Ready names the presence watch, and the kube-ovn kinds once they run.
func TestReadyWithKubeOVN(t *testing.T) {
	md := metadatafake.NewSimpleMetadataClient(metadatafake.NewTestScheme())
	crd := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{Name: informers.KubeOVNCRDName, ResourceVersion: "10"},
	}
	if err := md.Tracker().Create(informers.CRDsGVR, crd, ""); err != nil {
		t.Fatal(err)
	}
	md.PrependReactor("list", "subnets", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(informers.SubnetsGVR.GroupResource(), "", errors.New("no RBAC"))
	})
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		informers.VMIsGVR: "VirtualMachineInstanceList", informers.VMsGVR: "VirtualMachineList",
	})
	store, err := informers.New(informers.Config{Metadata: md, Dynamic: dyn, Kinds: informers.V18Kinds(), WatchKubeOVN: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "informers not synced: Node, NetworkAttachmentDefinition, ClusterNetwork, VlanConfig, VlanStatus, " +
		"VirtualMachineInstance, VirtualMachine, HostNetworkConfig, CustomResourceDefinition"
	if err := store.Ready(); err == nil || err.Error() != want {
		t.Fatalf("before start: Ready() = %v, want %q", err, want)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer func() { cancel(); store.Wait() }()
	store.Start(ctx)
	waitCtx, waitCancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer waitCancel()
	err = store.WaitForSync(waitCtx)
	if want := "informers not synced: Subnet (cannot list/watch kubeovn.io/v1 subnets: forbidden " +
		"(subnets.kubeovn.io is forbidden: no RBAC); grant get, list, watch)"; err == nil || !errors.Is(err, context.DeadlineExceeded) || store.Ready().Error() != want {
		t.Errorf("WaitForSync = %v; Ready() = %v, want %q", err, store.Ready(), want)
	}
	// Decisions on Subnets wait for their cache: kube-ovn does not count as
	// installed while the Subnet informer cannot sync.
	if store.KubeOVNEnabled() {
		t.Error("KubeOVNEnabled() = true although the Subnet cache has not synced")
	}
}
