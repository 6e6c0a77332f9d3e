package chart

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func convert[T any](t *testing.T, obj *unstructured.Unstructured) *T {
	t.Helper()
	if obj == nil {
		t.Fatal("object not rendered")
	}
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFlagOn asserts every difference the flag makes, and that nothing
// else differs: the ServiceAccount, ClusterRoleBinding and Service stay;
// the Deployment changes its image, environment, ports, probes,
// securityContext and resources only; the ClusterRole's rules are replaced
// (TestClusterRoleIsLeastPrivilege) and a Role for the Secrets is added.
func TestFlagOn(t *testing.T) {
	off, on := objects(t, render(t)), objects(t, render(t, flagOn))

	added := []string{"Role/harvester-network-webhook", "RoleBinding/harvester-network-webhook"}
	if want := append(slices.Collect(maps.Keys(off)), added...); !sameSet(slices.Collect(maps.Keys(on)), want) {
		t.Errorf("flag on renders %v, want %v", slices.Sorted(maps.Keys(on)), slices.Sorted(slices.Values(want)))
	}
	for _, key := range []string{"ServiceAccount/harvester-network-webhook", "ClusterRoleBinding/harvester-network-webhook", "Service/harvester-network-webhook"} {
		if !reflect.DeepEqual(on[key], off[key]) {
			t.Errorf("%s changes with the flag:\n off %v\n on  %v", key, off[key], on[key])
		}
	}

	depOff := convert[appsv1.Deployment](t, off["Deployment/harvester-network-webhook"])
	depOn := convert[appsv1.Deployment](t, on["Deployment/harvester-network-webhook"])
	c := &depOn.Spec.Template.Spec.Containers[0]
	if c.Image != "ghcr.io/lowmem/harvester-network-webhook:dev" || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("image %s (%s), want ghcr.io/lowmem/harvester-network-webhook:dev (IfNotPresent)", c.Image, c.ImagePullPolicy)
	}
	if !slices.Equal(c.Command, []string{"harvester-network-webhook"}) {
		t.Errorf("command %q, want upstream's [harvester-network-webhook]: the image puts it on PATH", c.Command)
	}
	wantEnv := map[string]string{
		"HARVESTER_VERSION":         "v1.9",
		"MODE":                      "enforce",
		"WEBHOOK_SERVER_HTTPS_PORT": "8443",
		"HEALTH_PORT":               "8444",
		// 90% of the 72Mi limit.
		"GOMEMLIMIT": "67947724",
	}
	if got := env(c); !maps.Equal(got, wantEnv) || c.Env[0].Name != "NAMESPACE" || c.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("env %v (first %s), want NAMESPACE from metadata.namespace, then %v", got, c.Env[0].Name, wantEnv)
	}
	wantPorts := []corev1.ContainerPort{
		{Name: "https", ContainerPort: 8443, Protocol: corev1.ProtocolTCP},
		{Name: "health", ContainerPort: 8444, Protocol: corev1.ProtocolTCP},
	}
	if !reflect.DeepEqual(c.Ports, wantPorts) {
		t.Errorf("ports %+v, want %+v", c.Ports, wantPorts)
	}
	for name, probe := range map[string]*corev1.Probe{"/readyz": c.ReadinessProbe, "/healthz": c.LivenessProbe} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != name || probe.HTTPGet.Port != intstr.FromString("health") {
			t.Errorf("no probe of %s on the health port: %+v", name, probe)
		}
	}
	sc := c.SecurityContext
	if sc == nil || !ptrIs(sc.ReadOnlyRootFilesystem, true) || !ptrIs(sc.RunAsNonRoot, true) || !ptrIs(sc.AllowPrivilegeEscalation, false) ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("securityContext %+v, want read-only root, non-root, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp", sc)
	}
	wantResources := corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("72Mi")},
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("48Mi")},
	}
	if !equalResources(c.Resources, wantResources) {
		t.Errorf("resources %v, want %v", c.Resources, wantResources)
	}

	// Put back upstream's values of the fields above: nothing else differs.
	upstream := depOff.Spec.Template.Spec.Containers[0]
	c.Image, c.ImagePullPolicy, c.Env, c.Ports = upstream.Image, upstream.ImagePullPolicy, upstream.Env, upstream.Ports
	c.ReadinessProbe, c.LivenessProbe, c.SecurityContext, c.Resources = upstream.ReadinessProbe, upstream.LivenessProbe, upstream.SecurityContext, upstream.Resources
	if !reflect.DeepEqual(depOn, depOff) {
		t.Errorf("the Deployment differs in more than the flag's fields:\n%s", lineDiff(toJSON(t, depOff), toJSON(t, depOn)))
	}

	role := convert[rbacv1.Role](t, on["Role/harvester-network-webhook"])
	wantRules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"harvester-network-webhook-ca", "harvester-network-webhook-tls"}, Verbs: []string{"get", "list", "watch", "update"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
	}
	if role.Namespace != namespace || !reflect.DeepEqual(role.Rules, wantRules) {
		t.Errorf("Role in %q with %+v, want in %q: %+v", role.Namespace, role.Rules, namespace, wantRules)
	}
	binding := convert[rbacv1.RoleBinding](t, on["RoleBinding/harvester-network-webhook"])
	wantSubjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "harvester-network-webhook", Namespace: namespace}}
	if binding.RoleRef.Kind != "Role" || binding.RoleRef.Name != role.Name || !reflect.DeepEqual(binding.Subjects, wantSubjects) {
		t.Errorf("RoleBinding %+v to %+v, want the Role to %+v", binding.RoleRef, binding.Subjects, wantSubjects)
	}
}

// TestValues: the other values the flag reads, and the mistakes the chart
// refuses with a message instead of rendering a webhook that cannot start.
func TestValues(t *testing.T) {
	container := func(t *testing.T, sets ...string) *corev1.Container {
		t.Helper()
		dep := convert[appsv1.Deployment](t, objects(t, render(t, append([]string{flagOn}, sets...)...))["Deployment/harvester-network-webhook"])
		return &dep.Spec.Template.Spec.Containers[0]
	}
	for _, tc := range []struct {
		sets []string
		want map[string]string // env
	}{
		{[]string{"webhook.lowMemory.harvesterVersion=auto"}, map[string]string{"HARVESTER_VERSION": "auto"}},
		{[]string{"webhook.lowMemory.harvesterVersion=v1.4"}, map[string]string{"HARVESTER_VERSION": "v1.4"}},
		{[]string{"webhook.lowMemory.mode=audit"}, map[string]string{"MODE": "audit"}},
		{[]string{"webhook.lowMemory.resources.limits.memory=1Gi"}, map[string]string{"GOMEMLIMIT": "966367641"}},
		{[]string{"webhook.lowMemory.resources.limits.memory=100M", "webhook.lowMemory.goMemLimitPercent=80"}, map[string]string{"GOMEMLIMIT": "80000000"}},
		{[]string{"webhook.lowMemory.resources.limits.memory=67108864"}, map[string]string{"GOMEMLIMIT": "60397977"}},
		{[]string{"webhook.httpsPort=9443", "webhook.lowMemory.healthPort=9444"}, map[string]string{"WEBHOOK_SERVER_HTTPS_PORT": "9443", "HEALTH_PORT": "9444"}},
	} {
		c := container(t, tc.sets...)
		got := env(c)
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%v: %s=%q, want %q", tc.sets, k, got[k], v)
			}
		}
	}
	c := container(t, "webhook.lowMemory.image.repository=registry.example/webhook", "webhook.lowMemory.image.tag=v1", "webhook.lowMemory.image.pullPolicy=Never")
	if c.Image != "registry.example/webhook:v1" || c.ImagePullPolicy != corev1.PullNever {
		t.Errorf("image %s (%s), want registry.example/webhook:v1 (Never)", c.Image, c.ImagePullPolicy)
	}

	for _, tc := range []struct{ set, want string }{
		{"webhook.lowMemory.harvesterVersion=v1.3", `"v1.3": the oldest release with rules is v1.4`},
		{"webhook.lowMemory.harvesterVersion=v2.0", `"v2.0": want v1.4 ... v1.9 (newer releases get the v1.9 rules) or auto`},
		{"webhook.lowMemory.harvesterVersion=latest", `"latest": want v1.4`},
		{"webhook.lowMemory.resources.limits.memory=0.5Gi", `"0.5Gi": want an integer with one of the suffixes`},
		{"webhook.lowMemory.resources.limits.memory=null", "webhook.lowMemory.resources.limits.memory is required"},
		{"webhook.lowMemory.image.tag=", "webhook.lowMemory.image.tag is required"},
	} {
		_, err := renderErr(t, flagOn, tc.set)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.set, err, tc.want)
		}
	}
}

// env returns the container's plain-value variables by name.
func env(c *corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			out[e.Name] = e.Value
		}
	}
	return out
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ptrIs(p *bool, want bool) bool { return p != nil && *p == want }

func equalResources(a, b corev1.ResourceRequirements) bool {
	eq := func(x, y corev1.ResourceList) bool {
		return maps.EqualFunc(x, y, func(p, q resource.Quantity) bool { return p.Cmp(q) == 0 })
	}
	return eq(a.Limits, b.Limits) && eq(a.Requests, b.Requests)
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}
