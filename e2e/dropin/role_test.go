package dropin

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/lowmem/harvester-network-webhook/detect/detecttest"
	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// releases are clusters as each Harvester release line leaves them: its
// upstream ClusterRole and its CRDs (hostnetworkconfigs only from v1.8).
// The webhook runs in each with nothing but NAMESPACE set, once per run,
// each run after writing its Helm release "harvester" (if any), and must
// choose that cluster's rules: rules is what /readyz says; the answers to a
// NAD with VLAN 5000 and to one with a trunk item lacking minID (checked
// from v1.7 on) tell the rule sets apart.
var releases = []struct {
	name, role string
	hnc        bool // the HostNetworkConfig CRD is installed
	runs       []release
}{
	{name: "v1.4", role: "clusterrole-v1.4.yaml", runs: []release{{rules: "v1.4 (detected: Harvester v1.4 or v1.5)",
		badVLAN: "could not create nad tenant/vlan5000 because VLAN ID must >=0 and <=4094"}}},
	{name: "v1.6", role: "clusterrole-v1.6.yaml", runs: []release{{rules: "v1.7 (detected: Harvester v1.6 or v1.7)",
		badVLAN:  "can't create nad tenant/vlan5000 because vlan 5000 is out of range [0 .. 4094]",
		badTrunk: "can't create nad tenant/trunk because minID and maxID should be configured simultaneously, minID is missing",
	}, {chart: "1.6.1", rules: "v1.6 (detected: Harvester v1.6)",
		badVLAN: "can't create nad tenant/vlan5000 because VLAN ID must >=0 and <=4094"}}},
	{name: "master", role: "clusterrole-master.yaml", hnc: true, runs: []release{{rules: "v1.9 (detected: Harvester v1.8 or later)",
		badVLAN:  "can't create nad tenant/vlan5000 because vlan 5000 is out of range [0 .. 4094]",
		badTrunk: "can't create nad tenant/trunk because minID and maxID should be configured simultaneously, minID is missing"}}},
}

// release is one run of the webhook and the answers it must give.
type release struct {
	chart    string // the Helm release's chart version; "": none
	rules    string
	badVLAN  string
	badTrunk string // "": admitted
}

func nad(name string, vlan int) string {
	return harness.TenantNAD(name, fmt.Sprintf(`"vlan":%d`, vlan))
}

// trunkNAD is a NAD with a trunk item that has a maxID and no minID.
func trunkNAD() string { return harness.TenantNAD("trunk", `"vlanTrunk":[{"maxID":200}]`) }

var webhookConfigs = []schema.GroupVersionResource{
	{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"},
}

// registered reports whether both webhook configurations exist.
func (c *cluster) registered(ctx context.Context) (bool, error) {
	for _, gvr := range webhookConfigs {
		_, err := c.Client.Dynamic.Resource(gvr).Get(ctx, "harvester-network-webhook", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// TestUpstreamRoleSuffices swaps the image under each release's upstream
// chart, changing nothing else: the webhook detects the release, registers,
// answers with that release's rules through the API server, and the API
// server refuses none of its calls. The calls at start (the detection's
// among them) and per request are logged.
func TestUpstreamRoleSuffices(t *testing.T) {
	for _, r := range releases {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, r.role, nil)
			if !r.hnc {
				c.deleteCRD(t, "network.harvesterhci.io_hostnetworkconfigs.yaml")
			}
			c.Apply(t, harness.TenantNetwork)
			for n, run := range r.runs {
				if run.chart != "" {
					c.Apply(t, helmRelease(n+1, run.chart))
				}
				c.swapImage(t, run)
			}
		})
	}
}

// swapImage runs the webhook with only NAMESPACE set, checks its answers
// and stops it.
func (c *cluster) swapImage(t *testing.T, r release) {
	ctx := t.Context()
	before := len(c.Calls(t))
	w, err := harness.StartWebhook(ctx, harness.WebhookOptions{
		Binary: binary, Kubeconfig: c.Kubeconfig(t), Env: chartEnv(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := w.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("webhook log:\n%s", w.Logs())
		}
	}()
	if err := harness.WaitAdmitting(ctx, c.Client, "tenant"); err != nil {
		t.Fatal(err)
	}
	// Later registrations (kube-ovn's rule) and watch set-ups settle.
	time.Sleep(2 * time.Second)
	start := c.Calls(t)
	t.Logf("rules %s: API calls until admitting (incl. one probe review): %d: %s", r.rules, len(start)-before, summary(start[before:]))
	t.Logf("rules %s: of which the detection: %s", r.rules, summary(detection(start[before:])))

	if code, body := readyz(ctx, w.HealthPort); code != http.StatusOK || !strings.Contains(body, "rules: "+r.rules+"\n") {
		t.Errorf("/readyz = %d %q, want 200 with rules: %s", code, body, r.rules)
	}
	if !strings.Contains(w.Logs(), `"msg":"Harvester release detected"`) {
		t.Error("the detection is not logged")
	}
	_, err = c.Client.DryRunCreate(ctx, harness.MustObject(nad("vlan5000", 5000)))
	if err := harness.WantDenied(err, r.badVLAN); err != nil {
		t.Error(err)
	}
	_, err = c.Client.DryRunCreate(ctx, harness.MustObject(trunkNAD()))
	if r.badTrunk == "" && err != nil {
		t.Errorf("trunk NAD: %v, want it admitted", err)
	}
	if r.badTrunk != "" {
		if err := harness.WantDenied(err, r.badTrunk); err != nil {
			t.Errorf("trunk NAD: %v", err)
		}
	}
	denied := c.Calls(t)
	t.Logf("rules %s: API calls for the VLAN 5000 and trunk NAD creates: %s", r.rules, summary(denied[len(start):]))

	valid := harness.MustObject(nad("vlan10", 10))
	if _, err := c.Client.Create(ctx, valid); err != nil {
		t.Errorf("valid NAD: %v", err)
	}
	created := c.Calls(t)
	t.Logf("rules %s: API calls for an admitted NAD create: %s", r.rules, summary(created[len(denied):]))

	if _, err := c.Client.DryRunCreate(ctx, harness.MustObject(nad("vlan11", 11))); err != nil {
		t.Errorf("valid NAD: %v", err)
	}
	again := c.Calls(t)
	t.Logf("rules %s: API calls for a second admitted NAD create: %s", r.rules, summary(again[len(created):]))

	if err := c.Client.Delete(ctx, valid); err != nil {
		t.Errorf("delete the valid NAD: %v", err)
	}
	deleted := c.Calls(t)
	t.Logf("rules %s: API calls for an admitted NAD delete: %s", r.rules, summary(deleted[len(again):]))
	if f := forbidden(deleted[before:]); len(f) > 0 {
		t.Errorf("the upstream ClusterRole does not allow: %v", f)
	}
}

// helmRelease is revision rev of the Helm release "harvester" at chart
// version chart, as Helm's Secret storage writes it.
func helmRelease(rev int, chart string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","type":"helm.sh/release.v1",
"metadata":{"name":"sh.helm.release.v1.harvester.v%d","namespace":%q,
"labels":{"owner":"helm","name":"harvester","status":"deployed","version":"%d"}},
"data":{"release":%q}}`, rev, namespace, rev, base64.StdEncoding.EncodeToString(detecttest.ReleaseData(chart)))
}

// TestMissingPermissionIsReported runs each profile under a role that lacks
// some of its kinds: v1.4 without the watch verb on vlanconfigs (client-go
// then fills the cache from a LIST, but the webhook must not count it ready
// without a watch), and the v1.9 profile, pinned by HARVESTER_VERSION, under
// release-v1.4's role, which lacks virtualmachines, hostnetworkconfigs and
// kube-ovn. The webhook
// says so once per kind in its log and in /readyz, registers nothing, and
// recovers by itself once the upstream role of its release is applied.
func TestMissingPermissionIsReported(t *testing.T) {
	forbiddenFor := func(what, verbs string) string {
		return "cannot list/watch " + what + ": forbidden for " + webhookUser + "; grant " + verbs
	}
	cases := []struct {
		version, role, fixedRole string
		edit                     func([]any) []any
		want                     map[string]string // kind: reason
	}{{
		version: "v1.4", role: "clusterrole-v1.4.yaml", fixedRole: "clusterrole-v1.4.yaml", edit: vlanConfigsWithoutWatch,
		want: map[string]string{"VlanConfig": forbiddenFor("network.harvesterhci.io/v1beta1 vlanconfigs", "get, list, watch")},
	}, {
		version: "v1.9", role: "clusterrole-v1.4.yaml", fixedRole: "clusterrole-master.yaml",
		want: map[string]string{
			"VirtualMachine":    forbiddenFor("kubevirt.io/v1 virtualmachines", "list, watch"),
			"HostNetworkConfig": forbiddenFor("network.harvesterhci.io/v1beta1 hostnetworkconfigs", "get, list, watch"),
			"Subnet":            forbiddenFor("kubeovn.io/v1 subnets", "get, list, watch"),
			"Vpc":               forbiddenFor("kubeovn.io/v1 vpcs", "list, watch"),
		},
	}}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, tc.role, tc.edit)
			ctx := t.Context()
			w := startProcess(t, c.Kubeconfig(t), webhookEnv(tc.version))

			harness.WaitFor(t, 30*time.Second, "the missing permissions reported", func() error {
				code, body := readyz(ctx, w.healthPort)
				for kind, reason := range tc.want {
					if !strings.Contains(w.Logs(), reason) {
						return fmt.Errorf("log has no %q", reason)
					}
					if code != http.StatusServiceUnavailable || !strings.Contains(body, kind+" ("+reason+")") ||
						!strings.Contains(body, "rules: "+tc.version+" (configured)") {
						return fmt.Errorf("/readyz = %d %q, want 503 naming %s (%s)", code, body, kind, reason)
					}
				}
				return nil
			})
			// The reflectors retry within a few seconds; each line stays single.
			time.Sleep(4 * time.Second)
			for _, reason := range tc.want {
				if n := strings.Count(w.Logs(), reason); n != 1 {
					t.Errorf("%q is logged %d times, want once", reason, n)
				}
			}
			if ok, err := c.registered(ctx); err != nil || ok {
				t.Errorf("webhook configurations registered = %v (%v) while caches cannot sync", ok, err)
			}

			c.applyRole(t, tc.fixedRole, nil)
			// The reflector's backoff reaches 30 s at most.
			harness.WaitFor(t, 90*time.Second, "ready after the grant", func() error {
				if code, body := readyz(ctx, w.healthPort); code != http.StatusOK {
					return fmt.Errorf("/readyz = %d %q", code, body)
				}
				return nil
			})
			c.Apply(t, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"tenant"}}`)
			if err := harness.WaitAdmitting(ctx, c.Client, "tenant"); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(w.Logs(), "Cache synced after earlier list/watch failures") {
				t.Error("the recovery is not logged")
			}
			if f := forbidden(c.Calls(t)); len(f) == 0 {
				t.Error("the audit log has no refused call")
			}
		})
	}
}

// vlanConfigsWithoutWatch moves vlanconfigs out of its rule into one with
// get and list only.
func vlanConfigsWithoutWatch(rules []any) []any {
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		if resources, ok := rule["resources"].([]any); ok && slices.Contains(resources, any("vlanconfigs")) {
			rule["resources"] = slices.DeleteFunc(resources, func(v any) bool { return v == "vlanconfigs" })
		}
	}
	return append(rules, map[string]any{
		"apiGroups": []any{"network.harvesterhci.io"}, "resources": []any{"vlanconfigs"}, "verbs": []any{"get", "list"},
	})
}

// TestMissingCRDIsReported starts the v1.9 profile without the
// HostNetworkConfig CRD (a Harvester before v1.8 with the newest rules): the
// webhook names the CRD in its log and /readyz, registers nothing, and
// recovers once the CRD is installed.
func TestMissingCRDIsReported(t *testing.T) {
	t.Parallel()
	const want = "cannot list/watch network.harvesterhci.io/v1beta1 hostnetworkconfigs: " +
		"the CRD hostnetworkconfigs.network.harvesterhci.io is not installed"
	c := newCluster(t, "clusterrole-master.yaml", nil)
	ctx := t.Context()
	crd := c.deleteCRD(t, "network.harvesterhci.io_hostnetworkconfigs.yaml")
	w := startProcess(t, c.Kubeconfig(t), webhookEnv("v1.9"))

	harness.WaitFor(t, 30*time.Second, "the missing CRD reported", func() error {
		if !strings.Contains(w.Logs(), want) {
			return fmt.Errorf("log has no %q", want)
		}
		if code, body := readyz(ctx, w.healthPort); code != http.StatusServiceUnavailable || !strings.Contains(body, "HostNetworkConfig ("+want+")") {
			return fmt.Errorf("/readyz = %d %q, want 503 naming HostNetworkConfig (%s)", code, body, want)
		}
		return nil
	})
	if ok, err := c.registered(ctx); err != nil || ok {
		t.Errorf("webhook configurations registered = %v (%v) while a cache cannot sync", ok, err)
	}

	crd.SetResourceVersion("")
	if _, err := c.Client.Create(ctx, crd); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 90*time.Second, "ready after the CRD is installed", func() error {
		if code, body := readyz(ctx, w.healthPort); code != http.StatusOK {
			return fmt.Errorf("/readyz = %d %q", code, body)
		}
		return nil
	})
	c.Apply(t, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"tenant"}}`)
	if err := harness.WaitAdmitting(ctx, c.Client, "tenant"); err != nil {
		t.Fatal(err)
	}
}

// deleteCRD deletes the CRD of manifests/crds/file, waits until it is gone,
// and returns it.
func (c *cluster) deleteCRD(t *testing.T, file string) *unstructured.Unstructured {
	t.Helper()
	ctx := t.Context()
	b, err := os.ReadFile(filepath.Join(repoRoot, "manifests", "crds", file))
	if err != nil {
		t.Fatal(err)
	}
	crds, err := harness.Decode(b)
	if err != nil || len(crds) != 1 {
		t.Fatalf("%s: %d objects, %v", file, len(crds), err)
	}
	if err := c.Client.Delete(ctx, crds[0]); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 30*time.Second, "the CRD deleted", func() error {
		if _, err := c.Client.Get(ctx, crds[0]); !apierrors.IsNotFound(err) {
			return fmt.Errorf("get: %w", err)
		}
		return nil
	})
	return crds[0]
}
