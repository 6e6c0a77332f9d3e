// Package detect chooses the Harvester release whose webhook rules to
// enforce when none is configured, from what the cluster shows at start.
//
// An image swap under an unchanged upstream chart sets nothing but
// NAMESPACE. Each release's chart grants its webhook a ClusterRole with the
// kinds that release's rules read (spec §6): VirtualMachines from
// release-v1.5, kube-ovn Subnets and Vpcs from release-v1.6,
// HostNetworkConfigs from release-v1.8, and the CRDs of those kinds come
// with the release. So the newest rule set whose kinds the role permits and
// whose CRDs are installed is the release's own line, and it can become
// ready; a newer one could not. Every authenticated user may ask the API
// server what it may do (SelfSubjectAccessReview), and every upstream role
// may get CustomResourceDefinitions.
//
// Roles alike for several releases (v1.6 and v1.7; v1.8 and v1.9) are told
// apart by the Helm release the network chart is part of: Harvester installs
// it as the release "harvester" in the webhook's namespace, whose newest
// revision names the chart version that created this pod, upgrades in
// progress included. Every upstream role may read Secrets there.
package detect

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/lowmem/harvester-network-webhook/admission"
	"github.com/lowmem/harvester-network-webhook/informers"
)

// Cluster answers the questions the detection asks.
type Cluster interface {
	// Allowed tells whether this process may verb the resource in every
	// namespace, or only the object name if not "" (a
	// SelfSubjectAccessReview).
	Allowed(ctx context.Context, verb string, resource schema.GroupResource, name string) (bool, error)
	// CRDInstalled tells whether the CustomResourceDefinition name exists.
	CRDInstalled(ctx context.Context, name string) (bool, error)
	// ChartVersion returns the chart version of the newest revision of the
	// Helm release "harvester", e.g. "1.6.1"; "" when there is none.
	ChartVersion(ctx context.Context) (string, error)
}

// Choice is the rule set chosen and why.
type Choice struct {
	Version admission.Version
	// Releases is the release line the evidence points to, e.g. "v1.6 or
	// v1.7": releases whose roles and CRDs are alike share a line.
	Releases string
	// Evidence is what was asked and answered, in order.
	Evidence []string
	// Refused, when set, is the API server refusing to answer; Version is
	// then the oldest rule set, the one every release's role lets become
	// ready.
	Refused error
}

// line is a set of releases whose roles and CRDs are alike, and the rule
// set enforced for them when the Helm release does not say which one runs.
type line struct {
	version  admission.Version
	releases string
	// first and last are the minor releases of the line; last 0: open.
	// first also selects the kinds watched (informers.KindsFor).
	first, last int
}

// lines, oldest first. Without a Helm release the newest release of a line
// is assumed: v1.4 and v1.5 ship the same webhook; v1.7 and v1.9 fixed
// defects of v1.6 and v1.8 (v1.7 re-matches VlanConfig nodes on every
// update, v1.9 skips VlanConfigs without matched nodes where v1.8 denies),
// and a cluster that is neither helm-installed nor pinned is most likely a
// new one.
var lines = []line{
	{admission.V1_4, "v1.4 or v1.5", 4, 5},
	{admission.V1_7, "v1.6 or v1.7", 6, 7},
	{admission.V1_9, "v1.8 or later", 8, 0},
}

// Oldest is the choice when nothing can be asked.
func Oldest() Choice { return Choice{Version: lines[0].version, Releases: lines[0].releases} }

// Detect walks the lines from the oldest and stops at the first whose added
// watches the role does not permit or whose CRDs are not installed; it asks
// nothing after the first "no". Within the line found, the Helm release's
// chart version picks the release. A refused question (403, or the review
// API not served) falls back to the oldest rule set and says so in Refused;
// any other error (the API server unreachable, a timeout) is returned, for
// the caller to ask again.
func Detect(ctx context.Context, c Cluster) (Choice, error) {
	choice := Oldest()
	found := lines[0]
	for _, next := range lines[1:] {
		ok, err := choice.check(ctx, c, needs(found.first, next.first))
		if err != nil {
			if refused(err) {
				fallback := Oldest()
				fallback.Evidence, fallback.Refused = choice.Evidence, err
				return fallback, nil
			}
			return Choice{}, err
		}
		if !ok {
			break
		}
		found = next
		choice.Version, choice.Releases = next.version, next.releases
	}
	if err := choice.refine(ctx, c, found); err != nil {
		return Choice{}, err
	}
	return choice, nil
}

// refine picks the release within line l that the Helm release names. It
// cannot leave the line: a chart version the role contradicts (a role
// edited by hand, a release renamed) is noted and ignored, as the line is
// what can become ready.
func (ch *Choice) refine(ctx context.Context, c Cluster, l line) error {
	v, err := c.ChartVersion(ctx)
	switch {
	case err != nil && refused(err):
		ch.Evidence = append(ch.Evidence, "Helm release harvester: cannot read ("+err.Error()+")")
		return nil
	case errors.Is(err, errUnreadableRelease):
		ch.Evidence = append(ch.Evidence, "Helm release harvester: "+err.Error())
		return nil
	case err != nil:
		return fmt.Errorf("read the Helm release harvester: %w", err)
	case v == "":
		ch.Evidence = append(ch.Evidence, "Helm release harvester: none")
		return nil
	}
	minor, ok := chartMinor(v)
	if !ok || minor < l.first || (l.last != 0 && minor > l.last) {
		ch.Evidence = append(ch.Evidence, "Helm release harvester: chart "+v+", not of this line: ignored")
		return nil
	}
	ch.Evidence = append(ch.Evidence, "Helm release harvester: chart "+v)
	ch.Version = min(admission.Version(minor), lines[len(lines)-1].version)
	ch.Releases = fmt.Sprintf("v1.%d", minor)
	return nil
}

// chartMinor returns y of a chart version 1.y.z (a pre-release suffix
// allowed, as in 1.9.0-rc6); development builds (0.0.0-…) have none.
func chartMinor(v string) (int, bool) {
	var minor int
	if n, err := fmt.Sscanf(strings.TrimPrefix(v, "v"), "1.%d.", &minor); n != 1 || err != nil {
		return 0, false
	}
	return minor, true
}

// need is a permission a rule set's watches take, and the CRD they need.
type need struct {
	resource schema.GroupResource
	name     string // only this object (a metadata.name field selector)
	verbs    []string
	crd      string // must be installed; "": none
}

// needs returns what release v1.<to>'s watches take that v1.<from>'s do
// not: each added kind's verbs and CRD (kube-ovn's CRDs excepted: those
// kinds follow kube-ovn's presence at run time), and the watch of that
// presence, the one CRD subnets.kubeovn.io.
func needs(from, to int) []need {
	older, olderOVN := informers.KindsFor(from)
	had := make(map[string]bool, len(older))
	for _, k := range older {
		had[k.Name] = true
	}
	newer, newerOVN := informers.KindsFor(to)
	var out []need
	for _, k := range newer {
		if had[k.Name] {
			continue
		}
		n := need{resource: k.GVR.GroupResource(), verbs: k.Verbs()}
		if !k.KubeOVN {
			n.crd = k.CRDName()
		}
		out = append(out, n)
	}
	if newerOVN && !olderOVN {
		out = append(out, need{resource: informers.CRDsGVR.GroupResource(), name: informers.KubeOVNCRDName, verbs: []string{"list", "watch"}})
	}
	return out
}

// check tells whether every need is met, stopping at the first that is
// not; each answer is noted as evidence.
func (ch *Choice) check(ctx context.Context, c Cluster, needs []need) (bool, error) {
	for _, n := range needs {
		what := n.resource.String()
		if n.name != "" {
			what += " named " + n.name
		}
		for _, verb := range n.verbs {
			ok, err := c.Allowed(ctx, verb, n.resource, n.name)
			if err != nil {
				return false, fmt.Errorf("ask whether it may %s %s: %w", verb, what, err)
			}
			if !ok {
				ch.Evidence = append(ch.Evidence, verb+" "+what+": forbidden")
				return false, nil
			}
			ch.Evidence = append(ch.Evidence, verb+" "+what+": allowed")
		}
		if n.crd == "" {
			continue
		}
		ok, err := c.CRDInstalled(ctx, n.crd)
		if err != nil {
			return false, fmt.Errorf("get the CRD %s: %w", n.crd, err)
		}
		if !ok {
			ch.Evidence = append(ch.Evidence, "CRD "+n.crd+": not installed")
			return false, nil
		}
		ch.Evidence = append(ch.Evidence, "CRD "+n.crd+": installed")
	}
	return true, nil
}

// refused tells an answer that asking again will not change: the question
// is forbidden, or the API is not served.
func refused(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) ||
		errors.Is(err, errNotAnswered)
}

// errNotAnswered is a review the API server accepted but did not decide
// (its answer has no status).
var errNotAnswered = errors.New("the API server returned no decision")
