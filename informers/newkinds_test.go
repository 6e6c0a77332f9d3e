package informers_test

import (
	"reflect"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/lowmem/harvester-network-webhook/apis/network/v1beta1"
	"github.com/lowmem/harvester-network-webhook/informers"
	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

func TestKindsFor(t *testing.T) {
	names := func(kinds []informers.Kind) []string {
		var out []string
		for _, k := range kinds {
			out = append(out, k.Name)
		}
		return out
	}
	v14 := names(informers.V14Kinds())
	v16 := append(append([]string(nil), v14...), informers.KindVM, informers.KindSubnet, informers.KindVpc)
	v18 := append(append([]string(nil), v16...), informers.KindHostNetworkConfig)
	tests := []struct {
		minor   int
		want    []string
		wantOVN bool
	}{
		{4, v14, false}, {5, v14, false},
		{6, v16, true}, {7, v16, true},
		{8, v18, true}, {9, v18, true}, {10, v18, true},
	}
	for _, tt := range tests {
		kinds, ovn := informers.KindsFor(tt.minor)
		if got := names(kinds); !reflect.DeepEqual(got, tt.want) || ovn != tt.wantOVN {
			t.Errorf("KindsFor(%d) = %v, %v; want %v, %v", tt.minor, got, ovn, tt.want, tt.wantOVN)
		}
	}
}

func TestNewRejectsKubeOVNKindsWithoutWatch(t *testing.T) {
	c := informerstest.New(t, informers.Config{})
	_, err := informers.New(informers.Config{Metadata: c.Metadata, Dynamic: c.Dynamic, Kinds: informers.V16Kinds()})
	if err == nil {
		t.Fatal("New(V16Kinds without WatchKubeOVN) succeeded")
	}
}

// allKinds are objects of every kind any profile watches, the kube-ovn CRD
// included.
func allKinds() []*unstructured.Unstructured {
	return []*unstructured.Unstructured{
		node("harv-node-01", nil),
		nad("default", "vlan100", map[string]any{informers.LabelClusterNetwork: "data"}, nil),
		vmi("default", "web-01", "harv-node-01", "default/vlan100"),
		vm("default", "web-01", "default/vlan100"),
		hostNetworkConfig("hnc-1", "data", 100, false),
		subnet("vswitch1", "vlan100.default.ovn"),
		vpc("vpc-1"),
		informerstest.KubeOVNCRD(),
	}
}

// The v1.4/v1.5 profile never lists or watches what its ClusterRole does not
// allow, and the Store methods over those kinds answer empty.
func TestV14ProfileWatchesOnlyItsKinds(t *testing.T) {
	c := informerstest.New(t, informers.Config{}, allKinds()...)
	for _, res := range []string{"virtualmachines", "hostnetworkconfigs", "subnets", "vpcs", "customresourcedefinitions"} {
		if n := c.ListsAndWatches(res); n != 0 {
			t.Errorf("%d list/watch requests for %s, want none", n, res)
		}
	}
	if n := c.ListsAndWatches("virtualmachineinstances"); n == 0 {
		t.Error("no list/watch request for virtualmachineinstances: the count does not work")
	}
	assertNoNewKinds(t, c.Store, true)
}

// The v1.6 profile does not watch HostNetworkConfigs.
func TestV16ProfileWatchesNoHostNetworkConfigs(t *testing.T) {
	c := informerstest.NewVersion(t, 6, allKinds()...)
	if n := c.ListsAndWatches("hostnetworkconfigs"); n != 0 {
		t.Errorf("%d list/watch requests for hostnetworkconfigs, want none", n)
	}
	if hncs, err := c.Store.HostNetworkConfigs(t.Context()); hncs != nil || err != nil {
		t.Errorf("HostNetworkConfigs() = %v, %v; want nothing", hncs, err)
	}
	if !c.Store.KubeOVNEnabled() || len(c.Store.VMsUsingNAD("default", "vlan100")) != 1 {
		t.Errorf("KubeOVNEnabled() = %v, VMsUsingNAD = %v; want true and one VM",
			c.Store.KubeOVNEnabled(), c.Store.VMsUsingNAD("default", "vlan100"))
	}
}

func assertNoNewKinds(t *testing.T, store informers.Store, hncToo bool) {
	t.Helper()
	if got := store.VMsUsingNAD("default", "vlan100"); got != nil {
		t.Errorf("VMsUsingNAD = %v, want nil", got)
	}
	if hncToo {
		if hncs, err := store.HostNetworkConfigs(t.Context()); hncs != nil || err != nil {
			t.Errorf("HostNetworkConfigs() = %v, %v; want nothing", hncs, err)
		}
	}
	if subnets, err := store.Subnets(t.Context()); subnets != nil || err != nil {
		t.Errorf("Subnets() = %v, %v; want nothing", subnets, err)
	}
	if store.VpcExists("vpc-1") || store.KubeOVNEnabled() {
		t.Errorf("VpcExists = %v, KubeOVNEnabled = %v; want false", store.VpcExists("vpc-1"), store.KubeOVNEnabled())
	}
}

func TestVMsUsingNAD(t *testing.T) {
	c := informerstest.NewVersion(t, 6,
		vm("default", "web-02", "vlan100"),                  // bare name, same namespace
		vm("default", "web-01", "default/vlan100"),          // qualified
		vm("other", "db-01", "vlan100"),                     // bare name, other namespace
		vm("other", "db-02", "default/vlan100"),             // qualified from another namespace
		vm("default", "both", "default/vlan100", "vlan100"), // both forms
		vm("default", "twice", "default/vlan100", "default/vlan100"),
		vm("default", "unrelated", "default/vlan200"),
		vm("default", "pod-only"),
		vmi("default", "vmi-only", "node-1", "default/vlan100"), // a VMI is not a VM
	)
	store := c.Store
	want := []informers.VMRef{
		{Namespace: "default", Name: "both"},
		{Namespace: "default", Name: "twice"},
		{Namespace: "default", Name: "web-01"},
		{Namespace: "other", Name: "db-02"},
		{Namespace: "default", Name: "both"},
		{Namespace: "default", Name: "web-02"},
	}
	if got := store.VMsUsingNAD("default", "vlan100"); !reflect.DeepEqual(got, want) {
		t.Errorf("VMsUsingNAD(default, vlan100) =\n%v\nwant\n%v", got, want)
	}
	want = []informers.VMRef{{Namespace: "other", Name: "db-01"}}
	if got := store.VMsUsingNAD("other", "vlan100"); !reflect.DeepEqual(got, want) {
		t.Errorf("VMsUsingNAD(other, vlan100) = %v, want %v", got, want)
	}
	if got := store.VMsUsingNAD("default", "vlan300"); got != nil {
		t.Errorf("VMsUsingNAD(default, vlan300) = %v, want nil", got)
	}

	c.Update(vm("default", "web-01", "default/vlan300"))
	c.Delete(vm("default", "web-02"))
	want = []informers.VMRef{{Namespace: "default", Name: "web-01"}}
	if got := store.VMsUsingNAD("default", "vlan300"); !reflect.DeepEqual(got, want) {
		t.Errorf("after update, VMsUsingNAD(default, vlan300) = %v, want %v", got, want)
	}
	if got := store.VMsUsingNAD("default", "vlan100"); len(got) != 4 {
		t.Errorf("after update and delete, VMsUsingNAD(default, vlan100) = %v, want 4 entries", got)
	}
	if got := store.VMIsUsingNAD("default", "vlan100", nil); len(got) != 1 || got[0].Name != "vmi-only" {
		t.Errorf("VMIsUsingNAD(default, vlan100) = %v, want only vmi-only", got)
	}
}

func TestNAD(t *testing.T) {
	c := informerstest.New(t, informers.Config{},
		nad("default", "vlan100", map[string]any{informers.LabelClusterNetwork: "data"},
			map[string]any{"storage-network.settings.harvesterhci.io": "true", "other.example.com/noise": "x"}))

	want := informers.NADMeta{
		Namespace:   "default",
		Name:        "vlan100",
		Labels:      map[string]string{informers.LabelClusterNetwork: "data"},
		Annotations: map[string]string{"storage-network.settings.harvesterhci.io": "true"},
	}
	if got, ok := c.Store.NAD("default", "vlan100"); !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("NAD(default, vlan100) = %+v, %v; want %+v", got, ok, want)
	}
	if got, ok := c.Store.NAD("other", "vlan100"); ok {
		t.Errorf("NAD(other, vlan100) = %+v, want not found", got)
	}
}

func TestNADConfig(t *testing.T) {
	noConfig := nad("default", "empty", nil, nil)
	delete(noConfig.Object, "spec")
	c := informerstest.New(t, informers.Config{}, nad("default", "vlan100", nil, nil), noConfig)
	ctx := t.Context()

	for range 2 {
		got, err := c.Store.NADConfig(ctx, "default", "vlan100")
		if want := `{"cniVersion":"0.3.1","type":"bridge"}`; err != nil || got != want {
			t.Fatalf("NADConfig(default, vlan100) = %q, %v; want %q", got, err, want)
		}
	}
	if n := c.Gets(informers.KindNAD); n != 1 {
		t.Errorf("%d GETs of NADs, want 1 (then the LRU)", n)
	}
	if got, err := c.Store.NADConfig(ctx, "default", "empty"); err != nil || got != "" {
		t.Errorf("NADConfig(default, empty) = %q, %v; want empty", got, err)
	}

	_, err := c.Store.NADConfig(ctx, "other", "vlan100")
	if !apierrors.IsNotFound(err) {
		t.Fatalf("NADConfig(other, vlan100) error = %v, want NotFound", err)
	}
	if got, want := err.Error(), `network-attachment-definitions.k8s.cni.cncf.io "vlan100" not found`; got != want {
		t.Errorf("error text = %q, want %q", got, want)
	}

	// An update evicts the cached config.
	updated := nad("default", "vlan100", nil, nil)
	updated.Object["spec"] = map[string]any{"config": `{"cniVersion":"0.3.1","type":"bridge","vlan":100}`}
	c.Update(updated)
	if got, err := c.Store.NADConfig(ctx, "default", "vlan100"); err != nil || got != `{"cniVersion":"0.3.1","type":"bridge","vlan":100}` {
		t.Errorf("after update, NADConfig = %q, %v", got, err)
	}
}

func TestVlanStatuses(t *testing.T) {
	notReady := vlanStatus("data-vs-2", "vc-2")
	notReady.Object["status"].(map[string]any)["conditions"] = []any{map[string]any{"type": "ready", "status": "False"}}
	store := informerstest.NewStore(t, vlanStatus("data-vs-1", "vc-1"), notReady, vlanStatus("data-vs-0", "vc-1"))
	ctx := t.Context()

	got, err := store.VlanStatuses(ctx, informers.LabelClusterNetwork, "data")
	if err != nil {
		t.Fatal(err)
	}
	var names, ready []string
	for _, vs := range got {
		names = append(names, vs.Name)
		ready = append(ready, vs.Ready)
	}
	if want := []string{"data-vs-0", "data-vs-1", "data-vs-2"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names = %v, want %v", names, want)
	}
	if want := []string{"True", "True", "False"}; !reflect.DeepEqual(ready, want) {
		t.Errorf("ready = %v, want %v", ready, want)
	}
	if got[1].VlanConfig != "vc-1" || got[1].Labels[informers.LabelVlanConfig] != "vc-1" {
		t.Errorf("data-vs-1 = %+v", *got[1])
	}

	got, err = store.VlanStatuses(ctx, informers.LabelVlanConfig, "vc-2")
	if err != nil || len(got) != 1 || got[0].Name != "data-vs-2" {
		t.Errorf("VlanStatuses(vlanconfig=vc-2) = %v, %v; want data-vs-2", got, err)
	}
	if got, err := store.VlanStatuses(ctx, informers.LabelClusterNetwork, "none"); err != nil || len(got) != 0 {
		t.Errorf("VlanStatuses(clusternetwork=none) = %v, %v; want none", got, err)
	}
}

func TestHostNetworkConfigs(t *testing.T) {
	deleting := hostNetworkConfig("hnc-a", "mgmt", 0, false)
	deleting.SetDeletionTimestamp(&metav1.Time{Time: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)})
	deleting.SetFinalizers([]string{"wrangler.cattle.io/hnc"})
	c := informerstest.NewVersion(t, 8, hostNetworkConfig("hnc-c", "data", 100, true), deleting, hostNetworkConfig("hnc-b", "data", 200, false))
	ctx := t.Context()

	got, err := c.Store.HostNetworkConfigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range got {
		names = append(names, h.Name)
	}
	if want := []string{"hnc-a", "hnc-b", "hnc-c"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("names = %v, want %v", names, want)
	}
	want := informers.HostNetworkConfig{
		Name: "hnc-c",
		Spec: v1beta1.HostNetworkConfigSpec{
			ClusterNetwork: "data",
			VlanID:         100,
			Underlay:       true,
			Mode:           "static",
			IPs:            map[string]string{"harv-node-01": "10.0.100.11/24", "harv-node-02": "10.0.100.12/24"},
			NodeSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/os": "linux"},
				MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "node-role.kubernetes.io/witness", Operator: metav1.LabelSelectorOpDoesNotExist},
				},
			},
		},
	}
	if !reflect.DeepEqual(*got[2], want) {
		t.Errorf("hnc-c = %+v, want %+v", *got[2], want)
	}
	if !got[0].Deleting || got[1].Deleting {
		t.Errorf("Deleting = %v, %v; want true, false", got[0].Deleting, got[1].Deleting)
	}

	if _, err := c.Store.HostNetworkConfigs(ctx); err != nil {
		t.Fatal(err)
	}
	if n := c.Gets(informers.KindHostNetworkConfig); n != 3 {
		t.Errorf("%d GETs of HostNetworkConfigs, want 3 (then the LRU)", n)
	}
	c.Delete(hostNetworkConfig("hnc-b", "", 0, false))
	if got, err := c.Store.HostNetworkConfigs(ctx); err != nil || len(got) != 2 {
		t.Errorf("after delete, HostNetworkConfigs() = %v, %v; want 2", got, err)
	}
}
