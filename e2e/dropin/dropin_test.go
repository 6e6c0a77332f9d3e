// Package dropin runs the webhook as the upstream chart does: under the
// upstream ClusterRole of its release (e2e/testdata) and with only NAMESPACE
// in its environment (HARVESTER_VERSION where a test pins the rule set).
// Each test has its own control plane, whose audit log counts the webhook's
// API calls.
//
// Unlike the chart, the ports and the registration URL are flags: the tests
// run in parallel on one machine, and no Service routes to the process.
package dropin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lowmem/harvester-network-webhook/e2e/controlplane"
	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

const (
	namespace = harness.WebhookNamespace
	// webhookUser is the chart's ServiceAccount, the subject of the
	// ClusterRoleBindings of e2e/testdata.
	webhookUser = "system:serviceaccount:harvester-system:harvester-network-webhook"
)

var (
	repoRoot string // absolute
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
	tmp, err := os.MkdirTemp("", "e2e-dropin-")
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

// cluster is a local control plane of one test, with its audit log.
type cluster struct{ *harness.AuditedCluster }

// webhookIdentity is the chart's ServiceAccount as the control plane
// authenticates it.
var webhookIdentity = controlplane.User{Name: webhookUser,
	Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace}}

// newCluster starts a local control plane with the CRDs, the webhook's
// namespace and the ClusterRole of e2e/testdata/roleFile, possibly edited.
func newCluster(t *testing.T, roleFile string, edit func([]any) []any) *cluster {
	t.Helper()
	c := &cluster{harness.StartAuditedCluster(t, repoRoot, webhookIdentity)}
	c.applyRole(t, roleFile, edit)
	return c
}

// applyRole creates or replaces the ClusterRole and ClusterRoleBinding of
// e2e/testdata/file; edit, if not nil, changes the role's rules first.
func (c *cluster) applyRole(t *testing.T, file string, edit func([]any) []any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "e2e", "testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := harness.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range objs {
		if rules, ok := obj.Object["rules"].([]any); ok && edit != nil {
			obj.Object["rules"] = edit(rules)
		}
		current, err := c.Client.Get(t.Context(), obj)
		if err != nil {
			if _, err := c.Client.Create(t.Context(), obj); err != nil {
				t.Fatal(err)
			}
			continue
		}
		obj.SetResourceVersion(current.GetResourceVersion())
		if _, err := c.Client.Update(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
}

// chartEnv is the environment the chart gives the container, and no
// shutdown drain: nothing routes by readiness here, and every stop would
// wait for it.
func chartEnv() []string { return []string{"NAMESPACE=" + namespace, "SHUTDOWN_DRAIN=0s"} }

// webhookEnv is chartEnv with a pinned rule set.
func webhookEnv(version string) []string {
	return append(chartEnv(), "HARVESTER_VERSION="+version)
}
