package informers

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var testGR = schema.GroupResource{Group: "network.harvesterhci.io", Resource: "vlanconfigs"}

func key(name string) lruKey { return lruKey{resource: testGR, name: name} }

// entrySize is what add charges for a value of size n under key(name) at rv.
func entrySize(name, rv string, n int64) int64 {
	return n + lruEntryOverhead + int64(len(name)+len(rv))
}

func TestLRUByteAccounting(t *testing.T) {
	c := newLRU(1 << 20)
	c.add(key("a"), "1", "A", 100)
	c.add(key("bb"), "22", "B", 300)
	want := entrySize("a", "1", 100) + entrySize("bb", "22", 300)
	if s := c.snapshot(); s.Bytes != want || s.Entries != 2 {
		t.Fatalf("after two adds: %+v, want %d bytes, 2 entries", s, want)
	}

	c.add(key("a"), "2", "A2", 50) // replacing an entry replaces its charge
	want = entrySize("a", "2", 50) + entrySize("bb", "22", 300)
	if s := c.snapshot(); s.Bytes != want || s.Entries != 2 {
		t.Fatalf("after replace: %+v, want %d bytes", s, want)
	}

	c.invalidate(key("bb"), "")
	c.invalidate(key("a"), "2") // same resourceVersion: kept
	want = entrySize("a", "2", 50)
	if s := c.snapshot(); s.Bytes != want || s.Entries != 1 || s.Invalidations != 1 {
		t.Fatalf("after invalidate: %+v, want %d bytes, 1 entry, 1 invalidation", s, want)
	}
}

func TestLRUEvictionOrder(t *testing.T) {
	per := entrySize("a", "1", 100)
	c := newLRU(3 * per) // room for exactly three entries
	for _, name := range []string{"a", "b", "c"} {
		c.add(key(name), "1", name, 100)
	}
	if _, ok := c.get(key("a"), "1"); !ok { // a becomes most recently used
		t.Fatal("a missing")
	}
	c.add(key("d"), "1", "d", 100) // evicts b, the least recently used
	c.add(key("e"), "1", "e", 100) // evicts c

	for name, want := range map[string]bool{"a": true, "b": false, "c": false, "d": true, "e": true} {
		if _, ok := c.get(key(name), "1"); ok != want {
			t.Errorf("%s cached = %v, want %v", name, ok, want)
		}
	}
	if s := c.snapshot(); s.Evictions != 2 || s.Bytes != 3*per || s.Bytes > s.BudgetBytes {
		t.Errorf("stats = %+v, want 2 evictions and %d bytes", s, 3*per)
	}
}

func TestLRUStaleEntryNotServed(t *testing.T) {
	c := newLRU(1 << 20)
	c.add(key("a"), "1", "old", 10)
	if _, ok := c.get(key("a"), "2"); ok {
		t.Fatal("entry at resourceVersion 1 served for resourceVersion 2")
	}
	if s := c.snapshot(); s.Entries != 0 || s.Misses != 1 || s.Invalidations != 1 {
		t.Errorf("stats = %+v, want the stale entry dropped", s)
	}
}

func TestLRUOversizedValueNotStored(t *testing.T) {
	c := newLRU(1000)
	c.add(key("small"), "1", "s", 10)
	c.add(key("huge"), "1", "h", 5000)
	if _, ok := c.get(key("huge"), "1"); ok {
		t.Error("value larger than the budget was stored")
	}
	if _, ok := c.get(key("small"), "1"); !ok {
		t.Error("an oversized value evicted a small one")
	}
}

// The size estimates cover at least the struct and its string bytes, and
// grow with content.
func TestDecodedSizes(t *testing.T) {
	small := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "vc"},
		"spec":     map[string]any{"clusterNetwork": "data"},
	}}
	big := small.DeepCopy()
	big.SetLabels(map[string]string{LabelClusterNetwork: "data"})
	big.SetAnnotations(map[string]string{"network.harvesterhci.io/matched-nodes": `["node-1","node-2","node-3"]`})
	big.Object["spec"] = map[string]any{
		"clusterNetwork": "data",
		"nodeSelector":   map[string]any{"kubernetes.io/hostname": "node-1"},
		"uplink": map[string]any{
			"nics":           []any{"ens5", "ens6"},
			"linkAttributes": map[string]any{"mtu": int64(9000)},
			"bondOptions":    map[string]any{"mode": "active-backup"},
		},
	}
	_, smallSize, err := decodeVlanConfig(small)
	if err != nil {
		t.Fatal(err)
	}
	_, bigSize, err := decodeVlanConfig(big)
	if err != nil {
		t.Fatal(err)
	}
	if smallSize < 100 || bigSize < smallSize+150 {
		t.Errorf("sizes: small %d, big %d", smallSize, bigSize)
	}
}

func TestDecodeVlanConfigWrongType(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "vc"},
		"spec":     map[string]any{"uplink": map[string]any{"linkAttributes": map[string]any{"mtu": "big"}}},
	}}
	if _, _, err := decodeVlanConfig(u); err == nil {
		t.Error("mtu of type string decoded without error")
	}
}
