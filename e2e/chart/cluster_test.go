package chart

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lowmem/harvester-network-webhook/e2e/controlplane"
	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// webhookUser is the chart's ServiceAccount, the subject of its bindings.
const webhookUser = "system:serviceaccount:" + namespace + ":harvester-network-webhook"

// cluster is a local control plane of one test, with its audit log.
type cluster struct{ *harness.AuditedCluster }

// newCluster starts a local control plane with the CRDs and the webhook's
// namespace, whose audit log records the webhook's requests.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	return &cluster{harness.StartAuditedCluster(t, repoRoot, controlplane.User{Name: webhookUser,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace}})}
}

// TestServerSideDryRun applies every object of the flag-off and flag-on
// renders (and the v1.4 and auto RBAC) to a real API server with
// server-side apply and dry run: the schemas and the RBAC escalation checks
// accept them.
func TestServerSideDryRun(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	for _, sets := range [][]string{
		nil,
		{flagOn},
		{flagOn, "webhook.lowMemory.harvesterVersion=v1.4"},
		{flagOn, "webhook.lowMemory.harvesterVersion=auto"},
	} {
		objs, err := harness.Decode(render(t, sets...))
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range objs {
			ri, err := c.Client.Resource(obj)
			if err != nil {
				t.Fatal(err)
			}
			body, err := json.Marshal(obj.Object)
			if err != nil {
				t.Fatal(err)
			}
			force := true
			if _, err := ri.Patch(t.Context(), obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
				FieldManager: "helm", Force: &force, DryRun: []string{metav1.DryRunAll},
			}); err != nil {
				t.Errorf("%v: server-side apply of %s %s: %v", sets, obj.GetKind(), obj.GetName(), err)
			}
		}
	}
}

// TestWebhookUnderChartRBAC runs the webhook as the flag-on chart would:
// under exactly its rendered ClusterRole and Role, bound to its
// ServiceAccount, with the environment of its Deployment. It becomes ready,
// the example objects go through it (the VlanConfig mutated, a NAD
// admitted), a bad NAD is denied with upstream's message, and the audit log
// shows no call that the rendered RBAC does not allow, and no refusal but
// the one auto expects: the Helm release, in Secrets the chart does not
// grant, so detection settles for the newest release of the line.
func TestWebhookUnderChartRBAC(t *testing.T) {
	const v19BadVLAN = "can't create nad demo/vlan5000 because vlan 5000 is out of range [0 .. 4094]"
	for _, p := range []struct {
		version, badVLAN string
		refused          []string // calls the API server must refuse, once each
		log              []string // in the webhook's log
	}{
		{version: "v1.4", badVLAN: "could not create nad demo/vlan5000 because VLAN ID must >=0 and <=4094"},
		{version: "v1.9", badVLAN: v19BadVLAN},
		{version: "auto", badVLAN: v19BadVLAN, refused: []string{"list secrets → 403"},
			log: []string{`"msg":"Harvester release detected","harvesterVersion":"v1.9"`, "Helm release harvester: cannot read"}},
	} {
		t.Run(p.version, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t)
			on := objects(t, render(t, flagOn, "webhook.lowMemory.harvesterVersion="+p.version))
			rbac := roleRules{
				cluster:   convert[rbacv1.ClusterRole](t, on["ClusterRole/harvester-network-webhook"]).Rules,
				namespace: namespace,
				local:     convert[rbacv1.Role](t, on["Role/harvester-network-webhook"]).Rules,
			}
			for _, key := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
				obj := on[key+"/harvester-network-webhook"]
				if _, err := c.Client.Create(t.Context(), obj); err != nil {
					t.Fatalf("create %s: %v", key, err)
				}
			}
			env := deploymentEnv(t, &convert[appsv1.Deployment](t, on["Deployment/harvester-network-webhook"]).Spec.Template.Spec.Containers[0])
			kubeconfig := c.Kubeconfig(t)
			ctx := t.Context()
			w, err := harness.StartWebhook(ctx, harness.WebhookOptions{Binary: binary, Kubeconfig: kubeconfig, Env: env})
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
			if err := harness.WaitAdmitting(ctx, c.Client, namespace); err != nil {
				t.Fatal(err)
			}

			examples := filepath.Join(repoRoot, "manifests", "examples")
			for _, f := range []string{"01-nodes.yaml", "02-clusternetworks.yaml", "03-vlanconfig.yaml", "04-namespace.yaml"} {
				c.applyFile(t, filepath.Join(examples, f))
			}
			vc, err := c.Client.Get(ctx, harness.MustObject(`{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"VlanConfig","metadata":{"name":"vc-data"}}`))
			if err != nil || vc.GetLabels()["network.harvesterhci.io/clusternetwork"] != "data" {
				t.Fatalf("the VlanConfig was not mutated (labels %v): %v", vc.GetLabels(), err)
			}
			harness.Eventually(t, "the example NAD admitted", func() error {
				_, err := c.Client.Apply(ctx, readFile(t, filepath.Join(examples, "05-nad.yaml")))
				return err
			})
			c.applyFile(t, filepath.Join(examples, "06-vmi.yaml"))
			_, err = c.Client.DryRunCreate(ctx, harness.MustObject(string(readFile(t, filepath.Join(examples, "denied", "nad-vlan5000.yaml")))))
			if err := harness.WantDenied(err, p.badVLAN); err != nil {
				t.Error(err)
			}

			events := c.Calls(t)
			t.Logf("%s: the webhook's API calls: %s", p.version, harness.AuditSummary(events))
			if len(events) == 0 {
				t.Fatal("the audit log has no call of the webhook")
			}
			refused := map[string]int{}
			for _, e := range events {
				if e.Forbidden() {
					if refused[e.Call()]++; !slices.Contains(p.refused, e.Call()) {
						t.Errorf("refused: %s", e.Call())
					}
					continue
				}
				if e.ObjectRef == nil {
					t.Errorf("a non-resource request, outside the chart's RBAC: %s", e.Call())
					continue
				}
				r := e.ObjectRef
				resource := r.Resource
				if r.Subresource != "" {
					resource += "/" + r.Subresource
				}
				if !rbac.allows(r.APIGroup, resource, r.Name, r.Namespace, e.Verb) {
					t.Errorf("outside the chart's RBAC: %s (namespace %q)", e.Call(), r.Namespace)
				}
			}
			for _, call := range p.refused {
				if refused[call] != 1 {
					t.Errorf("%q refused %d times, want once", call, refused[call])
				}
			}
			for _, l := range p.log {
				if !strings.Contains(w.Logs(), l) {
					t.Errorf("the webhook's log has no %s", l)
				}
			}
			code, body := readyz(ctx, w)
			if code != http.StatusOK || strings.Contains(body, "not registered") {
				t.Errorf("/readyz = %d %q, want 200 ok", code, body)
			}
		})
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (c *cluster) applyFile(t *testing.T, path string) {
	t.Helper()
	c.Apply(t, string(readFile(t, path)))
}

// deploymentEnv is the container's environment as the kubelet would set
// it: NAMESPACE from the pod's namespace, the rest as rendered.
func deploymentEnv(t *testing.T, c *corev1.Container) []string {
	t.Helper()
	var out []string
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			out = append(out, e.Name+"="+e.Value)
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			out = append(out, e.Name+"="+namespace)
		default:
			t.Fatalf("env %s: no value here for %+v", e.Name, e.ValueFrom)
		}
	}
	if !slices.ContainsFunc(out, func(s string) bool { return strings.HasPrefix(s, "GOMEMLIMIT=") }) {
		t.Fatalf("env %q has no GOMEMLIMIT", out)
	}
	return out
}

// readyz returns /readyz's status code and body; 0 if it does not answer.
func readyz(ctx context.Context, w *harness.Webhook) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.HealthURL()+"/readyz", nil)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
