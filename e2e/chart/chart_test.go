// Package chart tests the Helm chart of manifests/chart with the helm that
// `make tools` builds: lint, the flag-off render against upstream's
// (testdata/upstream-chart), the differences the flag makes, the
// least-privilege RBAC against the kinds each profile watches, both renders
// applied with server-side dry run, and the webhook run under exactly the
// flag-on RBAC on a local control plane whose audit log shows every call.
package chart

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// The release upstream's render in testdata was made with.
const (
	release   = "harvester"
	namespace = harness.WebhookNamespace
)

var (
	repoRoot string // absolute
	helm     string // bin/helm
	chartDir string // manifests/chart
	binary   string // the webhook, built once
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if repoRoot, err = filepath.Abs(filepath.Join("..", "..")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	helm = filepath.Join(repoRoot, "bin", "helm")
	chartDir = filepath.Join(repoRoot, "manifests", "chart")
	if _, err := os.Stat(helm); err != nil {
		fmt.Fprintln(os.Stderr, "e2e/chart needs helm: run `make tools`:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "e2e-chart-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	binary, err = harness.WebhookBinary(ctx, repoRoot, tmp)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		return 1
	}
	return m.Run()
}

// helmRun runs bin/helm and returns its standard output; the error carries
// its standard error.
func helmRun(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, helm, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// render runs `helm template` as upstream's render was made, with the
// given --set values.
func render(t *testing.T, sets ...string) []byte {
	t.Helper()
	out, err := renderErr(t, sets...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func renderErr(t *testing.T, sets ...string) ([]byte, error) {
	t.Helper()
	args := []string{"template", release, chartDir, "--namespace", namespace}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return helmRun(t.Context(), args...)
}

// flagOn is the --set that turns the low-memory webhook on.
const flagOn = "webhook.lowMemory.enabled=true"

// objects decodes a render into its objects, by "Kind/name".
func objects(t *testing.T, manifest []byte) map[string]*unstructured.Unstructured {
	t.Helper()
	objs, err := harness.Decode(manifest)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		key := o.GetKind() + "/" + o.GetName()
		if _, dup := out[key]; dup {
			t.Fatalf("%s rendered twice", key)
		}
		out[key] = o
	}
	return out
}

func TestLint(t *testing.T) {
	for _, sets := range [][]string{nil, {flagOn}, {flagOn, "webhook.lowMemory.harvesterVersion=auto"}} {
		args := []string{"lint", "--strict", chartDir}
		for _, s := range sets {
			args = append(args, "--set", s)
		}
		if out, err := helmRun(t.Context(), args...); err != nil {
			t.Errorf("%v\n%s", err, out)
		}
	}
}

// TestFlagOffIsUpstream: with the flag off (the default) the chart renders
// what upstream's chart renders for the webhook on master, byte for byte.
func TestFlagOffIsUpstream(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "upstream-chart", "webhook-master.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sets := range [][]string{nil, {"webhook.lowMemory.enabled=false"}} {
		if got := render(t, sets...); !bytes.Equal(got, want) {
			t.Errorf("helm template %v differs from upstream's render:\n%s", sets, lineDiff(string(want), string(got)))
		}
	}
}

// lineDiff lists the lines that differ, by line number: enough to find a
// stray space in a render.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "%4d want %q\n     got  %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}
