package informers_test

import (
	"fmt"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/lowmem/harvester-network-webhook/informers"
	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

func TestVMIsUsingNAD(t *testing.T) {
	store := informerstest.NewStore(t,
		vmi("default", "web-02", "node-1", "vlan100"),                  // bare name, same namespace
		vmi("default", "web-01", "node-2", "default/vlan100"),          // qualified
		vmi("other", "db-01", "node-1", "vlan100"),                     // bare name, other namespace
		vmi("other", "db-02", "node-3", "default/vlan100"),             // qualified from another namespace
		vmi("default", "both", "node-1", "default/vlan100", "vlan100"), // both forms
		vmi("default", "twice", "node-1", "default/vlan100", "default/vlan100"),
		vmi("default", "unrelated", "node-1", "default/vlan200"),
		vmi("default", "pod-only", "node-1"),
	)
	tests := []struct {
		name      string
		namespace string
		nad       string
		nodes     map[string]bool
		want      []informers.VMIRef
	}{
		{
			name: "qualified group first, then bare names of the same namespace", namespace: "default", nad: "vlan100",
			want: []informers.VMIRef{
				{Namespace: "default", Name: "both", Node: "node-1"},
				{Namespace: "default", Name: "twice", Node: "node-1"},
				{Namespace: "default", Name: "web-01", Node: "node-2"},
				{Namespace: "other", Name: "db-02", Node: "node-3"},
				{Namespace: "default", Name: "both", Node: "node-1"},
				{Namespace: "default", Name: "web-02", Node: "node-1"},
			},
		},
		{
			name: "bare name in another namespace only", namespace: "other", nad: "vlan100",
			want: []informers.VMIRef{{Namespace: "other", Name: "db-01", Node: "node-1"}},
		},
		{
			name: "only the VMIs on the given nodes, in the same order", namespace: "default", nad: "vlan100",
			nodes: map[string]bool{"node-2": true, "node-3": true},
			want: []informers.VMIRef{
				{Namespace: "default", Name: "web-01", Node: "node-2"},
				{Namespace: "other", Name: "db-02", Node: "node-3"},
			},
		},
		{
			name: "more nodes than are compared one by one", namespace: "default", nad: "vlan100",
			nodes: map[string]bool{"node-2": true, "node-3": true, "n4": true, "n5": true, "n6": true, "n7": true, "n8": true, "n9": true, "n10": true},
			want: []informers.VMIRef{
				{Namespace: "default", Name: "web-01", Node: "node-2"},
				{Namespace: "other", Name: "db-02", Node: "node-3"},
			},
		},
		{
			name: "a node mapped to false is not in the set", namespace: "default", nad: "vlan100",
			nodes: map[string]bool{"node-1": false, "node-2": true},
			want:  []informers.VMIRef{{Namespace: "default", Name: "web-01", Node: "node-2"}},
		},
		{name: "an empty node set matches none", namespace: "default", nad: "vlan100", nodes: map[string]bool{}},
		{name: "unused", namespace: "default", nad: "vlan300"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := store.VMIsUsingNAD(tt.namespace, tt.nad, tt.nodes); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("VMIsUsingNAD(%s, %s) =\n%v\nwant\n%v", tt.namespace, tt.nad, got, tt.want)
			}
		})
	}
}

func TestVMIsUsingNADFollowsChanges(t *testing.T) {
	c := informerstest.New(t, informers.Config{}, vmi("default", "web-01", "node-1", "default/vlan100"))

	c.Update(vmi("default", "web-01", "node-2", "default/vlan200"))
	if got := c.Store.VMIsUsingNAD("default", "vlan100", nil); len(got) != 0 {
		t.Errorf("after update, users of vlan100 = %v, want none", got)
	}
	want := []informers.VMIRef{{Namespace: "default", Name: "web-01", Node: "node-2"}}
	if got := c.Store.VMIsUsingNAD("default", "vlan200", nil); !reflect.DeepEqual(got, want) {
		t.Errorf("after update, users of vlan200 = %v, want %v", got, want)
	}

	c.Create(vmi("default", "web-02", "node-1", "vlan200"))
	if got := c.Store.VMIsUsingNAD("default", "vlan200", nil); len(got) != 2 {
		t.Errorf("after create, users of vlan200 = %v, want 2", got)
	}

	c.Delete(vmi("default", "web-01", "", ""))
	c.Delete(vmi("default", "web-02", "", ""))
	if got := c.Store.VMIsUsingNAD("default", "vlan200", nil); len(got) != 0 {
		t.Errorf("after delete, users of vlan200 = %v, want none", got)
	}
}

// Malformed networks never fail the informer: the VMI is kept without
// networks, or with the well-formed ones.
func TestVMIMalformedNetworks(t *testing.T) {
	notList := vmi("default", "not-list", "node-1")
	notList.Object["spec"].(map[string]any)["networks"] = "default/vlan100"
	badItems := vmi("default", "bad-items", "node-1")
	badItems.Object["spec"].(map[string]any)["networks"] = []any{
		"vlan100",
		map[string]any{"multus": "vlan100"},
		map[string]any{"multus": map[string]any{"networkName": int64(7)}},
		map[string]any{"multus": map[string]any{"networkName": "vlan100"}},
	}
	noSpec := vmi("default", "no-spec", "node-1")
	delete(noSpec.Object, "spec")
	noSpec.Object["status"] = "running"

	store := informerstest.NewStore(t, notList, badItems, noSpec)
	want := []informers.VMIRef{{Namespace: "default", Name: "bad-items", Node: "node-1"}}
	if got := store.VMIsUsingNAD("default", "vlan100", nil); !reflect.DeepEqual(got, want) {
		t.Errorf("VMIsUsingNAD = %v, want %v", got, want)
	}
	if n := store.Counts()[informers.KindVMI]; n != 3 {
		t.Errorf("cached VMIs = %d, want 3", n)
	}
}

// BenchmarkVMIsUsingNAD looks up the users of one NAD among 20,000 VMIs in 20
// namespaces; every VMI uses two of its namespace's ten NADs, one by
// "ns/name" and one by bare name, so a NAD has 200 users: 100 of each form.
func BenchmarkVMIsUsingNAD(b *testing.B) {
	const namespaces, nadsPerNamespace, vmis = 20, 10, 20_000
	objs := make([]*unstructured.Unstructured, 0, vmis)
	for i := range vmis {
		ns, j := fmt.Sprintf("ns-%02d", i%namespaces), i/namespaces
		objs = append(objs, vmi(ns, fmt.Sprintf("vm-%05d", i), fmt.Sprintf("node-%d", i%3),
			fmt.Sprintf("%s/net-%d", ns, j%nadsPerNamespace), fmt.Sprintf("net-%d", (j+1)%nadsPerNamespace)))
	}
	store := informerstest.NewStore(b, objs...)

	b.Run("used", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			n = len(store.VMIsUsingNAD("ns-07", "net-3", nil))
		}
		b.ReportMetric(float64(n), "users")
	})
	b.Run("on-one-node", func(b *testing.B) {
		b.ReportAllocs()
		nodes, n := map[string]bool{"node-1": true}, 0
		for b.Loop() {
			n = len(store.VMIsUsingNAD("ns-07", "net-3", nodes))
		}
		b.ReportMetric(float64(n), "users")
	})
	b.Run("unused", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			store.VMIsUsingNAD("ns-07", "net-none", nil)
		}
	})
}
