package main

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestSizes keeps the generated objects near the sizes of the cluster where
// upstream was measured.
func TestSizes(t *testing.T) {
	s := scenarios["L1"]
	for _, tc := range []struct {
		what     string
		gen      func(int) (any, error)
		min, max int
	}{
		{"crd", func(i int) (any, error) { o, err := crd(i); return o.Object, err }, 210 << 10, 260 << 10},
		{"vmi", func(i int) (any, error) { o, err := s.vmi(i); return o.Object, err }, 4500, 6000},
		{"node", func(i int) (any, error) { o, err := node(i); return o.Object, err }, 11 << 10, 14 << 10},
		{"secret", func(i int) (any, error) { o, err := secret(i); return o.Object, err }, 64 << 10, 66 << 10},
	} {
		o, err := tc.gen(7)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes", tc.what, len(b))
		if len(b) < tc.min || len(b) > tc.max {
			t.Errorf("%s is %d bytes, want %d..%d", tc.what, len(b), tc.min, tc.max)
		}
	}
}

func TestLastGCLive(t *testing.T) {
	logs := "gc 1 @0.010s 2%: 0.01+1.2+0.02 ms clock, 0.02+0.3/1.0/0+0.04 ms cpu, 3->4->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P\n" +
		"other line\n" +
		"gc 2 @0.520s 1%: 0.01+2.0+0.01 ms clock, 0.03+0.2/1.1/0+0.03 ms cpu, 210->230->190 MB, 240 MB goal, 0 MB stacks, 0 MB globals, 2 P\n"
	if got := lastGCLive(logs); got != 190<<20 {
		t.Errorf("lastGCLive = %d, want %d", got, 190<<20)
	}
	if got := lastGCLive("nothing"); got != -1 {
		t.Errorf("lastGCLive without gc lines = %d, want -1", got)
	}
}

// TestGenerate builds the first and last object of every kind of every
// scenario, and checks that names are unique within a kind.
func TestGenerate(t *testing.T) {
	for name, s := range scenarios {
		for _, k := range s.kinds() {
			if k.count == 0 {
				continue
			}
			seen := map[string]bool{}
			for _, i := range slices.Compact([]int{0, k.count / 2, k.count - 1}) {
				o, err := k.gen(i)
				if err != nil {
					t.Fatalf("%s %s %d: %v", name, k.what, i, err)
				}
				if seen[o.GetName()] {
					t.Errorf("%s %s %d: name %s repeats", name, k.what, i, o.GetName())
				}
				seen[o.GetName()] = true
			}
		}
	}
}
