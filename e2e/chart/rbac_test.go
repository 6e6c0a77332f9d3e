package chart

import (
	"fmt"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/lowmem/harvester-network-webhook/admission"
	"github.com/lowmem/harvester-network-webhook/informers"
)

// grant is one verb on one resource, by name or (name "") on all.
type grant struct{ group, resource, name, verb string }

func (g grant) String() string {
	s := g.verb + " " + g.resource
	if g.group != "" {
		s += "." + g.group
	}
	if g.name != "" {
		s += " " + g.name
	}
	return s
}

// grants expands rules into single grants; a wildcard anywhere is an error,
// since least privilege names everything.
func grants(t *testing.T, rules []rbacv1.PolicyRule) map[grant]bool {
	t.Helper()
	out := map[grant]bool{}
	for _, r := range rules {
		if len(r.NonResourceURLs) > 0 {
			t.Errorf("rule %+v grants non-resource URLs", r)
		}
		names := r.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, group := range r.APIGroups {
			for _, res := range r.Resources {
				for _, verb := range r.Verbs {
					for _, name := range names {
						if group == "*" || res == "*" || verb == "*" {
							t.Errorf("rule %+v has a wildcard", r)
						}
						out[grant{group, res, name, verb}] = true
					}
				}
			}
		}
	}
	return out
}

// detectionCRDs are the CustomResourceDefinitions the release detection
// (HARVESTER_VERSION=auto) reads by name: those of the kinds that later
// release lines watch, kube-ovn's excepted (those follow kube-ovn at run
// time).
func detectionCRDs() []string {
	oldest, _ := informers.KindsFor(4)
	newest, _ := informers.KindsFor(9)
	var out []string
	for _, k := range newest {
		if !k.KubeOVN && !slices.ContainsFunc(oldest, func(o informers.Kind) bool { return o.Name == k.Name }) {
			out = append(out, k.CRDName())
		}
	}
	return out
}

// wantGrants is what the webhook of Harvester v1.<minor> calls: the verbs
// of every kind its profile watches (informers.KindsFor), the kube-ovn CRD
// by name when it follows kube-ovn, its webhook configurations, and for
// auto the detection's reviews and CRD reads.
func wantGrants(minor int, auto bool) map[grant]bool {
	out := map[grant]bool{}
	kinds, watchKubeOVN := informers.KindsFor(minor)
	for _, k := range kinds {
		for _, v := range k.Verbs() {
			out[grant{k.GVR.Group, k.GVR.Resource, "", v}] = true
		}
	}
	if watchKubeOVN {
		for _, v := range []string{"list", "watch"} {
			out[grant{informers.CRDsGVR.Group, informers.CRDsGVR.Resource, informers.KubeOVNCRDName, v}] = true
		}
	}
	for _, res := range []string{"validatingwebhookconfigurations", "mutatingwebhookconfigurations"} {
		for _, v := range []string{"list", "watch", "patch"} {
			out[grant{"admissionregistration.k8s.io", res, admission.Name, v}] = true
		}
		out[grant{"admissionregistration.k8s.io", res, "", "create"}] = true
	}
	if auto {
		out[grant{"authorization.k8s.io", "selfsubjectaccessreviews", "", "create"}] = true
		for _, crd := range detectionCRDs() {
			out[grant{informers.CRDsGVR.Group, informers.CRDsGVR.Resource, crd, "get"}] = true
		}
	}
	return out
}

// TestClusterRoleIsLeastPrivilege renders the flag-on ClusterRole for every
// release and auto: it grants exactly what that profile's webhook calls,
// and nothing on Secrets, ConfigMaps, Leases, APIServices or all CRDs.
func TestClusterRoleIsLeastPrivilege(t *testing.T) {
	for _, tc := range []struct {
		version string
		minor   int
	}{
		{"v1.4", 4}, {"v1.5", 5}, {"v1.6", 6}, {"v1.7", 7}, {"v1.8", 8}, {"v1.9", 9}, {"v1.10.1", 10}, {"auto", 9},
	} {
		t.Run(tc.version, func(t *testing.T) {
			on := objects(t, render(t, flagOn, "webhook.lowMemory.harvesterVersion="+tc.version))
			role := convert[rbacv1.ClusterRole](t, on["ClusterRole/harvester-network-webhook"])
			got, want := grants(t, role.Rules), wantGrants(tc.minor, tc.version == "auto")
			if missing, extra := difference(want, got), difference(got, want); len(missing)+len(extra) > 0 {
				t.Errorf("the ClusterRole lacks %v and grants more: %v", missing, extra)
			}
			for g := range got {
				switch {
				case g.group == "" && (g.resource == "secrets" || g.resource == "configmaps"),
					g.group == "coordination.k8s.io", g.group == "apiregistration.k8s.io",
					g.resource == "customresourcedefinitions" && g.name == "":
					t.Errorf("the ClusterRole grants %s", g)
				}
			}
		})
	}
}

// difference returns the grants of a that b lacks, sorted.
func difference(a, b map[grant]bool) []string {
	var out []string
	for g := range a {
		if !b[g] {
			out = append(out, g.String())
		}
	}
	slices.Sort(out)
	return out
}

// allows tells whether rules let the user make the audited request: the
// rule names its group, resource (with subresource), verb and, if it has
// resourceNames, the object's name. Namespaced rules (a Role) apply only in
// their namespace.
func allows(rules []rbacv1.PolicyRule, ns string, group, resource, name, namespace, verb string) bool {
	if ns != "" && namespace != ns {
		return false
	}
	for _, r := range rules {
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) &&
			(len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, name)) {
			return true
		}
	}
	return false
}

// roleRules are the rendered ClusterRole's and Role's rules.
type roleRules struct {
	cluster   []rbacv1.PolicyRule
	namespace string
	local     []rbacv1.PolicyRule
}

func (r roleRules) allows(group, resource, name, namespace, verb string) bool {
	return allows(r.cluster, "", group, resource, name, namespace, verb) || allows(r.local, r.namespace, group, resource, name, namespace, verb)
}

func (r roleRules) String() string {
	return fmt.Sprintf("ClusterRole %+v; Role in %s %+v", r.cluster, r.namespace, r.local)
}
