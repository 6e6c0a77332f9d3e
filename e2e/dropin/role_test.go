package dropin

import (
	"context"
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
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// profiles are the oldest and newest rule sets, each under the upstream
// ClusterRole of its release.
var profiles = []struct{ version, role, badVLAN string }{
	{"v1.4", "clusterrole-v1.4.yaml", "could not create nad tenant/vlan5000 because VLAN ID must >=0 and <=4094"},
	{"v1.9", "clusterrole-master.yaml", "can't create nad tenant/vlan5000 because vlan 5000 is out of range [0 .. 4094]"},
}

// network is what a valid NAD needs: a ready cluster network with a
// VlanConfig on a node.
const network = `
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {kubernetes.io/hostname: n1}}
---
apiVersion: network.harvesterhci.io/v1beta1
kind: ClusterNetwork
metadata: {name: data}
status: {conditions: [{type: ready, status: "True"}]}
---
apiVersion: network.harvesterhci.io/v1beta1
kind: VlanConfig
metadata:
  name: vc-data
  # As the VlanConfig mutator would set them: the webhook is not running yet.
  labels: {network.harvesterhci.io/clusternetwork: data}
  annotations: {network.harvesterhci.io/matched-nodes: '["n1"]'}
spec:
  clusterNetwork: data
  uplink: {nics: [eth1], linkAttributes: {mtu: 1500}}
---
apiVersion: v1
kind: Namespace
metadata: {name: tenant}
`

func nad(name string, vlan int) string {
	return fmt.Sprintf(`{"apiVersion":"k8s.cni.cncf.io/v1","kind":"NetworkAttachmentDefinition",
"metadata":{"name":%q,"namespace":"tenant"},
"spec":{"config":"{\"cniVersion\":\"0.3.1\",\"name\":\"%s\",\"type\":\"bridge\",\"bridge\":\"data-br\",\"promiscMode\":true,\"vlan\":%d,\"ipam\":{}}"}}`,
		name, name, vlan)
}

var webhookConfigs = []schema.GroupVersionResource{
	{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"},
}

// registered reports whether both webhook configurations exist.
func (c *cluster) registered(ctx context.Context) (bool, error) {
	for _, gvr := range webhookConfigs {
		_, err := c.client.Dynamic.Resource(gvr).Get(ctx, "harvester-network-webhook", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// waitFor polls check every 200 ms until it passes or timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestUpstreamRoleSuffices runs each profile under its release's upstream
// ClusterRole with the chart's environment: it registers, denies a bad NAD
// with upstream's message and admits a valid one, and the API server refuses
// none of its calls. The calls at start and per request are logged.
func TestUpstreamRoleSuffices(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.version, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, p.role, nil)
			c.apply(t, network)
			ctx := t.Context()
			w, err := harness.StartWebhook(ctx, harness.WebhookOptions{
				Binary: binary, Kubeconfig: c.kubeconfig(t), Env: webhookEnv(p.version),
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := w.Stop(); err != nil {
					t.Error(err)
				}
				if t.Failed() {
					t.Logf("webhook log:\n%s", w.Logs())
				}
			})
			if err := harness.WaitAdmitting(ctx, c.client, "tenant"); err != nil {
				t.Fatal(err)
			}
			// Later registrations (kube-ovn's rule) and watch set-ups settle.
			time.Sleep(2 * time.Second)
			start := c.webhookCalls(t)
			t.Logf("%s: API calls until admitting (incl. one probe review): %d: %s", p.version, len(start), summary(start))

			_, err = c.client.DryRunCreate(ctx, harness.MustObject(nad("vlan5000", 5000)))
			if err := harness.WantDenied(err, p.badVLAN); err != nil {
				t.Error(err)
			}
			denied := c.webhookCalls(t)
			t.Logf("%s: API calls for a denied NAD create: %s", p.version, summary(denied[len(start):]))

			valid := harness.MustObject(nad("vlan10", 10))
			if _, err := c.client.Create(ctx, valid); err != nil {
				t.Errorf("valid NAD: %v", err)
			}
			created := c.webhookCalls(t)
			t.Logf("%s: API calls for an admitted NAD create: %s", p.version, summary(created[len(denied):]))

			if _, err := c.client.DryRunCreate(ctx, harness.MustObject(nad("vlan11", 11))); err != nil {
				t.Errorf("valid NAD: %v", err)
			}
			again := c.webhookCalls(t)
			t.Logf("%s: API calls for a second admitted NAD create: %s", p.version, summary(again[len(created):]))
			created = again

			if err := c.client.Delete(ctx, valid); err != nil {
				t.Errorf("delete the valid NAD: %v", err)
			}
			deleted := c.webhookCalls(t)
			t.Logf("%s: API calls for an admitted NAD delete: %s", p.version, summary(deleted[len(created):]))

			if f := forbidden(deleted); len(f) > 0 {
				t.Errorf("the upstream ClusterRole does not allow: %v", f)
			}
			code, body := readyz(ctx, w.HealthPort)
			if code != http.StatusOK || strings.Contains(body, "not registered") {
				t.Errorf("/readyz = %d %q, want 200 ok", code, body)
			}
		})
	}
}

// TestMissingPermissionIsReported runs each profile under a role that lacks
// some of its kinds: v1.4 without the watch verb on vlanconfigs (client-go
// then fills the cache from a LIST, but the webhook must not count it ready
// without a watch), and the default v1.9 profile under release-v1.4's role,
// which lacks virtualmachines, hostnetworkconfigs and kube-ovn. The webhook
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
			w := startProcess(t, c.kubeconfig(t), webhookEnv(tc.version))

			waitFor(t, 30*time.Second, "the missing permissions reported", func() error {
				code, body := readyz(ctx, w.healthPort)
				for kind, reason := range tc.want {
					if !strings.Contains(w.Logs(), reason) {
						return fmt.Errorf("log has no %q", reason)
					}
					if code != http.StatusServiceUnavailable || !strings.Contains(body, kind+" ("+reason+")") {
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
			waitFor(t, 90*time.Second, "ready after the grant", func() error {
				if code, body := readyz(ctx, w.healthPort); code != http.StatusOK {
					return fmt.Errorf("/readyz = %d %q", code, body)
				}
				return nil
			})
			c.apply(t, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"tenant"}}`)
			if err := harness.WaitAdmitting(ctx, c.client, "tenant"); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(w.Logs(), "Cache synced after earlier list/watch failures") {
				t.Error("the recovery is not logged")
			}
			if f := forbidden(c.webhookCalls(t)); len(f) == 0 {
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
	crdFile := filepath.Join(repoRoot, "manifests", "crds", "network.harvesterhci.io_hostnetworkconfigs.yaml")
	b, err := os.ReadFile(crdFile)
	if err != nil {
		t.Fatal(err)
	}
	crds, err := harness.Decode(b)
	if err != nil || len(crds) != 1 {
		t.Fatalf("%s: %d objects, %v", crdFile, len(crds), err)
	}
	if err := c.client.Delete(ctx, crds[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the CRD deleted", func() error {
		if _, err := c.client.Get(ctx, crds[0]); !apierrors.IsNotFound(err) {
			return fmt.Errorf("get: %w", err)
		}
		return nil
	})
	w := startProcess(t, c.kubeconfig(t), webhookEnv("v1.9"))

	waitFor(t, 30*time.Second, "the missing CRD reported", func() error {
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

	crds[0].SetResourceVersion("")
	if _, err := c.client.Create(ctx, crds[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, "ready after the CRD is installed", func() error {
		if code, body := readyz(ctx, w.healthPort); code != http.StatusOK {
			return fmt.Errorf("/readyz = %d %q", code, body)
		}
		return nil
	})
	c.apply(t, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"tenant"}}`)
	if err := harness.WaitAdmitting(ctx, c.client, "tenant"); err != nil {
		t.Fatal(err)
	}
}
