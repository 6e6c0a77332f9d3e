package chart

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// patchedFiles parses a git patch into the lines it adds per file (paths
// relative to the chart), whether each file is new, and the lines it
// removes.
func patchedFiles(patch string) (added map[string][]string, created map[string]bool, removed []string) {
	const prefix = "charts/harvester-network-controller/"
	added, created = map[string][]string{}, map[string]bool{}
	var file string
	for line := range strings.SplitSeq(patch, "\n") {
		switch {
		case strings.HasPrefix(line, "diff --git "):
			f := strings.Fields(line)
			file = strings.TrimPrefix(f[len(f)-1], "b/"+prefix)
		case strings.HasPrefix(line, "new file mode"):
			created[file] = true
		case strings.HasPrefix(line, "+++ "), strings.HasPrefix(line, "--- "):
		case strings.HasPrefix(line, "+"):
			added[file] = append(added[file], line[1:])
		case strings.HasPrefix(line, "-"):
			removed = append(removed, file+": "+line)
		}
	}
	return added, created, removed
}

// TestHarvesterChartsPatch: the patch for harvester/charts makes the same
// change as this chart (harvester/charts itself is not here to apply it
// to): its new helpers file is this chart's, every line it adds to the
// other files appears in this chart's copy in the same order, and it
// removes nothing, so the flag-off render cannot change.
func TestHarvesterChartsPatch(t *testing.T) {
	patch, err := os.ReadFile(filepath.Join(repoRoot, "manifests", "harvester-charts", "webhook-lowmemory.patch"))
	if err != nil {
		t.Fatal(err)
	}
	added, created, removed := patchedFiles(string(patch))
	if len(removed) > 0 {
		t.Errorf("the patch removes lines: %q", removed)
	}
	want := []string{"templates/_webhook-lowmemory.tpl", "templates/deployment.yaml", "templates/rbac.yaml", "values.yaml"}
	if !sameSet(slices.Collect(maps.Keys(added)), want) {
		t.Fatalf("the patch changes %v, want %v", slices.Sorted(maps.Keys(added)), want)
	}
	for file, lines := range added {
		ours, err := os.ReadFile(filepath.Join(chartDir, file))
		if err != nil {
			t.Fatal(err)
		}
		if created[file] {
			if got := strings.Join(lines, "\n") + "\n"; got != string(ours) {
				t.Errorf("the patch's new %s is not manifests/chart's:\n%s", file, lineDiff(string(ours), got))
			}
			continue
		}
		rest := strings.Split(string(ours), "\n")
		for _, l := range lines {
			i := slices.Index(rest, l)
			if i < 0 {
				t.Errorf("%s: the patch adds %q, which manifests/chart lacks (or has in another order)", file, l)
				break
			}
			rest = rest[i+1:]
		}
	}
}

// TestParentChartOverride installs the chart as Harvester does, as the
// sub-chart harvester-network-controller of a parent chart: the flag is
// overridden as harvester-network-controller.webhook.lowMemory.enabled,
// from --set and from a values file such as the ManagedChart's.
func TestParentChartOverride(t *testing.T) {
	parent := t.TempDir()
	if err := os.WriteFile(filepath.Join(parent, "Chart.yaml"), []byte("apiVersion: v2\nname: harvester\nversion: 0.0.0-dev\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(parent, "charts", "harvester-network-controller"), os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	values := filepath.Join(t.TempDir(), "managedchart-values.yaml")
	if err := os.WriteFile(values, []byte("harvester-network-controller:\n  webhook:\n    lowMemory:\n      enabled: true\n      harvesterVersion: v1.4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args      []string
		wantImage string
		wantEnv   string // HARVESTER_VERSION
	}{
		{nil, "rancher/harvester-network-webhook:master-head", ""},
		{[]string{"--set", "harvester-network-controller.webhook.lowMemory.enabled=true"}, "ghcr.io/lowmem/harvester-network-webhook:dev", "v1.9"},
		{[]string{"--values", values}, "ghcr.io/lowmem/harvester-network-webhook:dev", "v1.4"},
	} {
		out, err := helmRun(t.Context(), append([]string{"template", release, parent, "--namespace", namespace}, tc.args...)...)
		if err != nil {
			t.Fatal(err)
		}
		dep := convert[appsv1.Deployment](t, objects(t, out)["Deployment/harvester-network-webhook"])
		c := &dep.Spec.Template.Spec.Containers[0]
		if c.Image != tc.wantImage || env(c)["HARVESTER_VERSION"] != tc.wantEnv {
			t.Errorf("%v: image %s, HARVESTER_VERSION %q; want %s, %q", tc.args, c.Image, env(c)["HARVESTER_VERSION"], tc.wantImage, tc.wantEnv)
		}
	}
}

// TestHarvesterChartsPatchHunksCount: every hunk header of the patch counts
// the lines that follow it, so that git apply takes the patch.
func TestHarvesterChartsPatchHunksCount(t *testing.T) {
	patch, err := os.ReadFile(filepath.Join(repoRoot, "manifests", "harvester-charts", "webhook-lowmemory.patch"))
	if err != nil {
		t.Fatal(err)
	}
	var header string
	var wantOld, wantNew, old, added int
	check := func() {
		if header != "" && (old != wantOld || added != wantNew) {
			t.Errorf("%s: the hunk has %d old and %d new lines", header, old, added)
		}
	}
	for line := range strings.SplitSeq(strings.TrimSuffix(string(patch), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "@@ "):
			check()
			header, old, added = line, 0, 0
			var a, b int
			if _, err := fmt.Sscanf(line, "@@ -%d,%d +%d,%d @@", &a, &wantOld, &b, &wantNew); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
		case strings.HasPrefix(line, "diff --git"):
			check()
			header = ""
		case header == "":
		case strings.HasPrefix(line, "+"):
			added++
		case strings.HasPrefix(line, "-"):
			old++
		case strings.HasPrefix(line, " "):
			old++
			added++
		}
	}
	check()
}
