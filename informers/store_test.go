package informers_test

import (
	"reflect"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/lowmem/harvester-network-webhook/informers"
	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

func TestClusterNetworkNotFoundText(t *testing.T) {
	store := informerstest.NewStore(t, clusterNetwork("mgmt", "True"))

	_, err := store.ClusterNetwork(t.Context(), "data")
	if !apierrors.IsNotFound(err) {
		t.Fatalf("ClusterNetwork(data) error = %v, want NotFound", err)
	}
	if got, want := err.Error(), `clusternetworks.network.harvesterhci.io "data" not found`; got != want {
		t.Errorf("error text = %q, want %q", got, want)
	}

	_, err = store.VlanStatus(t.Context(), "vs-1")
	if got, want := err.Error(), `vlanstatuses.network.harvesterhci.io "vs-1" not found`; got != want {
		t.Errorf("error text = %q, want %q", got, want)
	}
}

func TestClusterNetworkDecoded(t *testing.T) {
	store := informerstest.NewStore(t, clusterNetwork("data", "True"), clusterNetwork("cold", "False"), clusterNetwork("bare", ""))
	tests := []struct {
		give string
		want informers.ClusterNetwork
	}{
		{"data", informers.ClusterNetwork{Name: "data", Ready: true, Annotations: map[string]string{"network.harvesterhci.io/uplink-mtu": "9000"}}},
		{"cold", informers.ClusterNetwork{Name: "cold", Annotations: map[string]string{"network.harvesterhci.io/uplink-mtu": "9000"}}},
		{"bare", informers.ClusterNetwork{Name: "bare", Annotations: map[string]string{"network.harvesterhci.io/uplink-mtu": "9000"}}},
	}
	for _, tt := range tests {
		got, err := store.ClusterNetwork(t.Context(), tt.give)
		if err != nil {
			t.Fatalf("ClusterNetwork(%s): %v", tt.give, err)
		}
		if !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("ClusterNetwork(%s) = %+v, want %+v", tt.give, *got, tt.want)
		}
	}
}

// An LRU entry is served only while the informer reports the resourceVersion
// it was fetched at.
func TestFullObjectFollowsResourceVersion(t *testing.T) {
	c := informerstest.New(t, informers.Config{}, clusterNetwork("data", "True"))
	ctx := t.Context()

	for range 3 {
		cn, err := c.Store.ClusterNetwork(ctx, "data")
		if err != nil || !cn.Ready {
			t.Fatalf("ClusterNetwork = %+v, %v; want ready", cn, err)
		}
	}
	if got := c.Gets(informers.KindClusterNetwork); got != 1 {
		t.Fatalf("GETs after three lookups = %d, want 1", got)
	}

	c.Update(clusterNetwork("data", "False"))
	for range 3 {
		cn, err := c.Store.ClusterNetwork(ctx, "data")
		if err != nil || cn.Ready {
			t.Fatalf("ClusterNetwork after update = %+v, %v; want not ready", cn, err)
		}
	}
	if got := c.Gets(informers.KindClusterNetwork); got != 2 {
		t.Errorf("GETs after the update = %d, want 2", got)
	}
	if s := c.Store.CacheStats(); s.Hits != 4 || s.Misses != 2 || s.Entries != 1 {
		t.Errorf("CacheStats = %+v, want 4 hits, 2 misses, 1 entry", s)
	}

	c.Delete(clusterNetwork("data", ""))
	if _, err := c.Store.ClusterNetwork(ctx, "data"); !apierrors.IsNotFound(err) {
		t.Errorf("ClusterNetwork after delete: %v, want NotFound", err)
	}
	// The delete event evicts the entry, asynchronously.
	deadline := time.Now().Add(5 * time.Second)
	for s := c.Store.CacheStats(); s.Entries != 0 || s.Bytes != 0; s = c.Store.CacheStats() {
		if time.Now().After(deadline) {
			t.Fatalf("CacheStats after delete = %+v, want empty", s)
		}
		time.Sleep(time.Millisecond)
	}
}

// An object the informer still holds but the server no longer has reads as
// NotFound, with the cache's text.
func TestFullObjectDeletedMeanwhile(t *testing.T) {
	c := informerstest.New(t, informers.Config{}, vlanStatus("vs-1", "vc-data"))
	if err := c.Dynamic.Tracker().Delete(informers.VlanStatusesGVR, "", "vs-1"); err != nil {
		t.Fatal(err)
	}
	_, err := c.Store.VlanStatus(t.Context(), "vs-1")
	if got, want := err.Error(), `vlanstatuses.network.harvesterhci.io "vs-1" not found`; got != want {
		t.Errorf("VlanStatus error = %q, want %q", got, want)
	}
}

func TestVlanStatus(t *testing.T) {
	store := informerstest.NewStore(t, vlanStatus("data-node1", "vc-data"))
	got, err := store.VlanStatus(t.Context(), "data-node1")
	if err != nil {
		t.Fatal(err)
	}
	want := informers.VlanStatus{
		Name: "data-node1", VlanConfig: "vc-data", Ready: "True",
		Labels: map[string]string{informers.LabelClusterNetwork: "data", informers.LabelVlanConfig: "vc-data"},
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("VlanStatus = %+v, want %+v", *got, want)
	}
}

func TestVlanConfigs(t *testing.T) {
	deleting := vlanConfig("vc-a", "data", 1500)
	deleting.SetFinalizers([]string{"parity.test/hold"})
	deleting.Object["metadata"].(map[string]any)["deletionTimestamp"] = "2026-11-20T08:15:30Z"
	store := informerstest.NewStore(t,
		vlanConfig("vc-z", "data", 9000), deleting, vlanConfig("vc-other", "storage", 1500))

	got, err := store.VlanConfigs(t.Context(), "data")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "vc-a" || got[1].Name != "vc-z" {
		t.Fatalf("VlanConfigs(data) = %+v, want vc-a, vc-z", got)
	}
	if !got[0].Deleting || got[1].Deleting {
		t.Errorf("Deleting = %v, %v; want true, false", got[0].Deleting, got[1].Deleting)
	}
	spec := got[1].Spec
	if spec.ClusterNetwork != "data" || spec.Uplink.LinkAttributes == nil || spec.Uplink.LinkAttributes.MTU != 9000 ||
		spec.Uplink.LinkAttributes.TxQLen != -1 || spec.Uplink.BondOptions.Miimon != -1 ||
		!reflect.DeepEqual(spec.Uplink.NICs, []string{"ens5"}) || spec.NodeSelector["kubernetes.io/hostname"] != "harv-node-01" {
		t.Errorf("spec = %+v", spec)
	}
	if got[1].Annotations["network.harvesterhci.io/matched-nodes"] != `["harv-node-01"]` {
		t.Errorf("annotations = %v", got[1].Annotations)
	}

	if got, err := store.VlanConfigs(t.Context(), "none"); err != nil || len(got) != 0 {
		t.Errorf("VlanConfigs(none) = %v, %v; want empty", got, err)
	}
}

func TestMetadataLists(t *testing.T) {
	allowed := "storage-network.settings.harvesterhci.io"
	store := informerstest.NewStore(t,
		node("node-b", map[string]any{"role": "worker"}),
		node("node-a", map[string]any{"role": "worker"}),
		node("witness", map[string]any{"node-role.harvesterhci.io/witness": "true"}),
		nad("ns2", "net", map[string]any{informers.LabelClusterNetwork: "data"}, nil),
		nad("ns1", "net-b", map[string]any{informers.LabelClusterNetwork: "data"}, map[string]any{allowed: "true", "kubectl/last-applied": "{}"}),
		nad("ns1", "net-a", map[string]any{informers.LabelClusterNetwork: "storage"}, nil),
		vlanStatus("vs-2", "vc-data"),
		vlanStatus("vs-1", "vc-data"),
		vlanStatus("vs-3", "vc-other"),
	)

	noWitness := labels.NewSelector()
	if r, err := labels.NewRequirement("node-role.harvesterhci.io/witness", "!", nil); err == nil {
		noWitness = noWitness.Add(*r)
	}
	if got := names(store.Nodes(noWitness)); !reflect.DeepEqual(got, []string{"node-a", "node-b"}) {
		t.Errorf("Nodes(!witness) = %v", got)
	}
	if got := names(store.Nodes(labels.Everything())); len(got) != 3 {
		t.Errorf("Nodes(everything) = %v", got)
	}

	byCN := labels.SelectorFromSet(labels.Set{informers.LabelClusterNetwork: "data"})
	if got := nadNames(store.NADs("", byCN)); !reflect.DeepEqual(got, []string{"ns1/net-b", "ns2/net"}) {
		t.Errorf("NADs(all, data) = %v", got)
	}
	if got := nadNames(store.NADs("ns1", labels.Everything())); !reflect.DeepEqual(got, []string{"ns1/net-a", "ns1/net-b"}) {
		t.Errorf("NADs(ns1) = %v", got)
	}
	if got := nadNames(store.NADs("ns1", nil)); len(got) != 2 {
		t.Errorf("NADs(ns1, nil) = %v", got)
	}
	nads := store.NADs("ns1", byCN)
	if len(nads) != 1 || !reflect.DeepEqual(nads[0].Annotations, map[string]string{allowed: "true"}) ||
		nads[0].Labels[informers.LabelClusterNetwork] != "data" {
		t.Errorf("NADs(ns1, data) = %+v, want one, allow-listed annotation only", nads)
	}

	if got := store.VlanStatusNames(informers.LabelVlanConfig, "vc-data"); !reflect.DeepEqual(got, []string{"vs-1", "vs-2"}) {
		t.Errorf("VlanStatusNames(vlanconfig=vc-data) = %v", got)
	}
	if got := store.VlanStatusNames(informers.LabelClusterNetwork, "data"); len(got) != 3 {
		t.Errorf("VlanStatusNames(clusternetwork=data) = %v", got)
	}
	if got := store.VlanStatusNames("not-indexed", "x"); len(got) != 0 {
		t.Errorf("VlanStatusNames(not-indexed) = %v", got)
	}
}

func names(nodes []informers.NodeMeta) []string {
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	return out
}

func nadNames(nads []informers.NADMeta) []string {
	out := make([]string, 0, len(nads))
	for _, n := range nads {
		out = append(out, n.Namespace+"/"+n.Name)
	}
	return out
}
