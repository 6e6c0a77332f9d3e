package detect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/lowmem/harvester-network-webhook/admission"
)

// cluster answers from a role (resources granted get, list and watch), a
// set of CRDs and a Helm chart version, and records the questions.
type cluster struct {
	granted   map[string]bool // "virtualmachines.kubevirt.io", or "… named x" for one object
	denyVerb  string          // "watch": granted resources lack this verb
	crds      map[string]bool
	chart     string
	askErr    error // every access review fails so
	crdErr    error // every CRD GET fails so
	chartErr  error
	questions []string
}

func (c *cluster) Allowed(_ context.Context, verb string, r schema.GroupResource, name string) (bool, error) {
	what := r.String()
	if name != "" {
		what += " named " + name
	}
	c.questions = append(c.questions, verb+" "+what)
	if c.askErr != nil {
		return false, c.askErr
	}
	return (c.granted[r.String()] || c.granted[what]) && verb != c.denyVerb, nil
}

func (c *cluster) CRDInstalled(_ context.Context, name string) (bool, error) {
	c.questions = append(c.questions, "CRD "+name)
	return c.crds[name], c.crdErr
}

func (c *cluster) ChartVersion(context.Context) (string, error) {
	c.questions = append(c.questions, "helm")
	return c.chart, c.chartErr
}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// The upstream roles' kinds the detection asks about (spec §6), and the CRDs
// of each era.
var (
	roleV14    = set("customresourcedefinitions.apiextensions.k8s.io", "virtualmachineinstances.kubevirt.io")
	roleV15    = set("customresourcedefinitions.apiextensions.k8s.io", "virtualmachineinstances.kubevirt.io", "virtualmachines.kubevirt.io")
	roleV16    = set("customresourcedefinitions.apiextensions.k8s.io", "virtualmachineinstances.kubevirt.io", "virtualmachines.kubevirt.io", "subnets.kubeovn.io", "vpcs.kubeovn.io")
	roleMaster = set("customresourcedefinitions.apiextensions.k8s.io", "virtualmachineinstances.kubevirt.io", "virtualmachines.kubevirt.io", "subnets.kubeovn.io", "vpcs.kubeovn.io",
		"hostnetworkconfigs.network.harvesterhci.io")
	// roleNamedCRD grants the kube-ovn CRD by name only, as a
	// least-privilege role does.
	roleNamedCRD = set("customresourcedefinitions.apiextensions.k8s.io named subnets.kubeovn.io", "virtualmachines.kubevirt.io",
		"subnets.kubeovn.io", "vpcs.kubeovn.io", "hostnetworkconfigs.network.harvesterhci.io")
	// roleNoCRDs is master's without customresourcedefinitions.
	roleNoCRDs = set("virtualmachines.kubevirt.io", "subnets.kubeovn.io", "vpcs.kubeovn.io", "hostnetworkconfigs.network.harvesterhci.io")
	crdsV17    = set("virtualmachines.kubevirt.io", "virtualmachineinstances.kubevirt.io")
	crdsV18    = set("virtualmachines.kubevirt.io", "virtualmachineinstances.kubevirt.io", "hostnetworkconfigs.network.harvesterhci.io")
)

func TestDetectChoosesTheNewestLineTheRoleAndCRDsAllow(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "authorization.k8s.io", Resource: "selfsubjectaccessreviews"}, "", errors.New("no"))
	for _, tc := range []struct {
		name     string
		c        cluster
		want     admission.Version
		releases string
		// last is the final piece of evidence: why no newer line.
		last    string
		refused bool
	}{
		{name: "release-v1.4 role", c: cluster{granted: roleV14, crds: crdsV17},
			want: admission.V1_4, releases: "v1.4 or v1.5", last: "list virtualmachines.kubevirt.io: forbidden"},
		{name: "release-v1.5 role", c: cluster{granted: roleV15, crds: crdsV17},
			want: admission.V1_4, releases: "v1.4 or v1.5", last: "get subnets.kubeovn.io: forbidden"},
		{name: "release-v1.6 role", c: cluster{granted: roleV16, crds: crdsV17},
			want: admission.V1_7, releases: "v1.6 or v1.7", last: "get hostnetworkconfigs.network.harvesterhci.io: forbidden"},
		{name: "master role", c: cluster{granted: roleMaster, crds: crdsV18},
			want: admission.V1_9, releases: "v1.8 or later", last: "CRD hostnetworkconfigs.network.harvesterhci.io: installed"},
		{name: "master role, no HostNetworkConfig CRD", c: cluster{granted: roleMaster, crds: crdsV17},
			want: admission.V1_7, releases: "v1.6 or v1.7", last: "CRD hostnetworkconfigs.network.harvesterhci.io: not installed"},
		{name: "master role, no KubeVirt CRDs", c: cluster{granted: roleMaster},
			want: admission.V1_4, releases: "v1.4 or v1.5", last: "CRD virtualmachines.kubevirt.io: not installed"},
		{name: "master role without watch", c: cluster{granted: roleMaster, denyVerb: "watch", crds: crdsV18},
			want: admission.V1_4, releases: "v1.4 or v1.5", last: "watch virtualmachines.kubevirt.io: forbidden"},
		{name: "the kube-ovn CRD granted by name", c: cluster{granted: roleNamedCRD, crds: crdsV18},
			want: admission.V1_9, releases: "v1.8 or later", last: "CRD hostnetworkconfigs.network.harvesterhci.io: installed"},
		{name: "no watch of the kube-ovn CRD", c: cluster{granted: roleNoCRDs, crds: crdsV18},
			want: admission.V1_4, releases: "v1.4 or v1.5", last: "list customresourcedefinitions.apiextensions.k8s.io named subnets.kubeovn.io: forbidden"},
		{name: "kube-ovn CRDs are not needed", c: cluster{granted: roleV16, crds: set("virtualmachines.kubevirt.io")},
			want: admission.V1_7, releases: "v1.6 or v1.7", last: "get hostnetworkconfigs.network.harvesterhci.io: forbidden"},
		{name: "cannot ask: review forbidden", c: cluster{granted: roleMaster, crds: crdsV18, askErr: forbidden},
			want: admission.V1_4, releases: "v1.4 or v1.5", refused: true},
		{name: "cannot ask: review API not served", c: cluster{granted: roleMaster, crds: crdsV18,
			askErr: apierrors.NewNotFound(schema.GroupResource{Group: "authorization.k8s.io", Resource: "selfsubjectaccessreviews"}, "")},
			want: admission.V1_4, releases: "v1.4 or v1.5", refused: true},
		{name: "cannot ask: review undecided", c: cluster{granted: roleMaster, crds: crdsV18, askErr: errNotAnswered},
			want: admission.V1_4, releases: "v1.4 or v1.5", refused: true},
		{name: "cannot ask: CRDs forbidden", c: cluster{granted: roleMaster, crds: crdsV18, crdErr: forbidden},
			want: admission.V1_4, releases: "v1.4 or v1.5", refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Detect(t.Context(), &tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != tc.want || got.Releases != tc.releases {
				t.Errorf("chose %v (%s), want %v (%s); evidence %q", got.Version, got.Releases, tc.want, tc.releases, got.Evidence)
			}
			if (got.Refused != nil) != tc.refused {
				t.Errorf("Refused = %v, want refused %v", got.Refused, tc.refused)
			}
			if tc.refused {
				if slices.Contains(tc.c.questions, "helm") {
					t.Errorf("asked on after a refusal: %q", tc.c.questions)
				}
				return
			}
			// Without a Helm release the last fact is the one that ended the walk.
			if n := len(got.Evidence); n < 2 || got.Evidence[n-2] != tc.last || got.Evidence[n-1] != "Helm release harvester: none" {
				t.Errorf("evidence %q, want it to end with %q and the Helm release", got.Evidence, tc.last)
			}
		})
	}
}

// On the release-v1.4 role the detection costs one review and the Helm
// lookup; on master's, every added kind's verbs and CRD once, oldest first.
func TestDetectAsksNothingTwiceAndStopsAtTheFirstNo(t *testing.T) {
	old := &cluster{granted: roleV14, crds: crdsV18}
	if _, err := Detect(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	if want := []string{"list virtualmachines.kubevirt.io", "helm"}; !slices.Equal(old.questions, want) {
		t.Errorf("release-v1.4 role: asked %q, want %q", old.questions, want)
	}
	master := &cluster{granted: roleMaster, crds: crdsV18}
	if _, err := Detect(t.Context(), master); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"list virtualmachines.kubevirt.io", "watch virtualmachines.kubevirt.io", "CRD virtualmachines.kubevirt.io",
		"get subnets.kubeovn.io", "list subnets.kubeovn.io", "watch subnets.kubeovn.io",
		"list vpcs.kubeovn.io", "watch vpcs.kubeovn.io",
		"list customresourcedefinitions.apiextensions.k8s.io named subnets.kubeovn.io",
		"watch customresourcedefinitions.apiextensions.k8s.io named subnets.kubeovn.io",
		"get hostnetworkconfigs.network.harvesterhci.io", "list hostnetworkconfigs.network.harvesterhci.io",
		"watch hostnetworkconfigs.network.harvesterhci.io", "CRD hostnetworkconfigs.network.harvesterhci.io",
		"helm",
	}
	if !slices.Equal(master.questions, want) {
		t.Errorf("master role: asked\n%q\nwant\n%q", master.questions, want)
	}
}

func TestDetectReturnsErrorsWorthAskingAgain(t *testing.T) {
	for name, c := range map[string]*cluster{
		"review":       {granted: roleMaster, askErr: apierrors.NewServiceUnavailable("etcd leader changed")},
		"CRD":          {granted: roleMaster, crdErr: context.DeadlineExceeded},
		"Helm release": {granted: roleMaster, crds: crdsV18, chartErr: apierrors.NewTooManyRequests("slow down", 1)},
	} {
		if got, err := Detect(t.Context(), c); err == nil {
			t.Errorf("%s: chose %v, want an error to retry on", name, got.Version)
		}
	}
}

func TestTheHelmReleasePicksTheReleaseWithinTheLine(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "", errors.New("no"))
	for _, tc := range []struct {
		role, crds map[string]bool
		chart      string
		chartErr   error
		want       admission.Version
		releases   string
		evidence   string
	}{
		{roleV14, crdsV17, "1.4.3", nil, admission.V1_4, "v1.4", "Helm release harvester: chart 1.4.3"},
		{roleV15, crdsV17, "1.5.2", nil, admission.V1_5, "v1.5", "Helm release harvester: chart 1.5.2"},
		{roleV16, crdsV17, "1.6.1", nil, admission.V1_6, "v1.6", "Helm release harvester: chart 1.6.1"},
		{roleV16, crdsV17, "1.7.3", nil, admission.V1_7, "v1.7", "Helm release harvester: chart 1.7.3"},
		{roleMaster, crdsV18, "1.8.2", nil, admission.V1_8, "v1.8", "Helm release harvester: chart 1.8.2"},
		{roleMaster, crdsV18, "1.9.0-rc6", nil, admission.V1_9, "v1.9", "Helm release harvester: chart 1.9.0-rc6"},
		{roleMaster, crdsV18, "1.10.0-dev.0", nil, admission.V1_9, "v1.10", "Helm release harvester: chart 1.10.0-dev.0"},
		// The role decides the line; a chart outside it is ignored.
		{roleV14, crdsV17, "1.9.0", nil, admission.V1_4, "v1.4 or v1.5", "Helm release harvester: chart 1.9.0, not of this line: ignored"},
		{roleMaster, crdsV18, "1.6.1", nil, admission.V1_9, "v1.8 or later", "Helm release harvester: chart 1.6.1, not of this line: ignored"},
		{roleMaster, crdsV18, "0.0.0-dev-dirty", nil, admission.V1_9, "v1.8 or later", "Helm release harvester: chart 0.0.0-dev-dirty, not of this line: ignored"},
		{roleV16, crdsV17, "", forbidden, admission.V1_7, "v1.6 or v1.7", "Helm release harvester: cannot read (" + forbidden.Error() + ")"},
		{roleV16, crdsV17, "", fmt.Errorf("%w: no chart", errUnreadableRelease), admission.V1_7, "v1.6 or v1.7", "Helm release harvester: unreadable: no chart"},
	} {
		c := &cluster{granted: tc.role, crds: tc.crds, chart: tc.chart, chartErr: tc.chartErr}
		got, err := Detect(t.Context(), c)
		if err != nil {
			t.Fatalf("chart %q: %v", tc.chart, err)
		}
		if got.Version != tc.want || got.Releases != tc.releases || got.Evidence[len(got.Evidence)-1] != tc.evidence {
			t.Errorf("chart %q (%v): chose %v (%s) with %q, want %v (%s) with %q", tc.chart, tc.chartErr,
				got.Version, got.Releases, got.Evidence[len(got.Evidence)-1], tc.want, tc.releases, tc.evidence)
		}
	}
}

func TestChartMinor(t *testing.T) {
	for v, want := range map[string]int{"1.4.0": 4, "v1.6.1": 6, "1.9.0-rc6": 9, "1.10.0-dev.0": 10, "0.0.0-dirty": -1, "2.0.0": -1, "1.6": -1, "": -1} {
		got, ok := chartMinor(v)
		if !ok {
			got = -1
		}
		if got != want {
			t.Errorf("chartMinor(%q) = %d, want %d", v, got, want)
		}
	}
}
