package harness

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/lowmem/harvester-network-webhook/e2e/controlplane"
)

// AuditedCluster is a local control plane of one test whose audit log
// records the requests of one user: the webhook's calls, counted and
// checked against a role.
type AuditedCluster struct {
	ControlPlane *controlplane.ControlPlane
	Client       *Client
	AuditLog     string
	user         string
}

// StartAuditedCluster starts a local control plane (not E2E_KUBECONFIG's: an
// existing cluster has no audit log to read) with the CRDs of manifests/crds
// and the namespace WebhookNamespace, whose audit log records user's
// requests (e2e/testdata/audit-policy.yaml names the webhook's
// ServiceAccount). It stops when the test ends.
func StartAuditedCluster(t *testing.T, repoRoot string, user controlplane.User) *AuditedCluster {
	t.Helper()
	c := &AuditedCluster{AuditLog: filepath.Join(t.TempDir(), "audit.log"), user: user.Name}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cp, err := controlplane.Start(ctx, controlplane.Options{
		BinDir: filepath.Join(repoRoot, "bin"),
		CRDDir: filepath.Join(repoRoot, "manifests", "crds"),
		Users:  []controlplane.User{user},
		ExtraAPIServerArgs: []string{
			"--audit-policy-file=" + filepath.Join(repoRoot, "e2e", "testdata", "audit-policy.yaml"),
			"--audit-log-path=" + c.AuditLog,
			"--audit-log-format=json",
			// Events are written before the request returns.
			"--audit-log-mode=blocking",
		},
		Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cp.Stop(); err != nil {
			t.Error(err)
		}
	})
	c.ControlPlane = cp
	if c.Client, err = NewClient(cp.Config); err != nil {
		t.Fatal(err)
	}
	c.Apply(t, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"`+WebhookNamespace+`"}}`)
	return c
}

// Apply creates the objects of manifest that do not exist yet.
func (c *AuditedCluster) Apply(t *testing.T, manifest string) {
	t.Helper()
	if _, err := c.Client.Apply(t.Context(), []byte(manifest)); err != nil {
		t.Fatal(err)
	}
}

// Calls returns the user's requests so far, in order, one per request.
func (c *AuditedCluster) Calls(t *testing.T) []AuditEvent {
	t.Helper()
	events, err := ReadAudit(c.AuditLog, c.user)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// Kubeconfig returns a kubeconfig that acts as the audited user.
func (c *AuditedCluster) Kubeconfig(t *testing.T) string {
	t.Helper()
	path, _, err := c.ControlPlane.KubeconfigFor(c.user)
	if err != nil {
		t.Fatal(err)
	}
	return path
}
