package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lowmem/harvester-network-webhook/e2e/controlplane"
)

// WebhookNamespace is where the end-to-end runs keep the webhook's Secrets.
const WebhookNamespace = "harvester-system"

// Suite is the control plane and webhook an end-to-end test package shares.
type Suite struct {
	// Users are extra identities for ControlPlane.KubeconfigFor; set them
	// before RunSuite.
	Users        []controlplane.User
	ControlPlane *controlplane.ControlPlane
	Client       *Client
	Webhook      *Webhook
}

// RunSuite starts a control plane (or uses E2E_KUBECONFIG's cluster) with
// the CRDs of manifests/crds, builds the webhook (unless WEBHOOK_BIN names
// one) and runs it with args until the API server calls it, then runs the
// package's tests, reports the webhook's memory and tears everything down.
// repoRoot is the repository root relative to the test package.
func RunSuite(m *testing.M, repoRoot string, s *Suite, args ...string) int {
	code, err := runSuite(m, repoRoot, s, args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		return 1
	}
	return code
}

func runSuite(m *testing.M, repoRoot string, s *Suite, args []string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		return 1, err
	}
	tmp, err := os.MkdirTemp("", "e2e-webhook-")
	if err != nil {
		return 1, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	binary, err := WebhookBinary(ctx, root, tmp)
	if err != nil {
		return 1, err
	}
	s.ControlPlane, err = controlplane.StartOrUse(ctx, controlplane.Options{
		BinDir: filepath.Join(root, "bin"),
		CRDDir: filepath.Join(root, "manifests", "crds"),
		Users:  s.Users,
		Logf:   func(f string, a ...any) { fmt.Fprintf(os.Stderr, "controlplane: "+f+"\n", a...) },
	})
	if err != nil {
		return 1, err
	}
	defer func() { _ = s.ControlPlane.Stop() }()
	if s.Client, err = NewClient(s.ControlPlane.Config); err != nil {
		return 1, err
	}
	if _, err := s.Client.Apply(ctx, []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"`+WebhookNamespace+`"}}`)); err != nil {
		return 1, err
	}
	s.Webhook, err = StartWebhook(ctx, WebhookOptions{
		Binary: binary, Kubeconfig: s.ControlPlane.Kubeconfig,
		Args: append([]string{"--namespace", WebhookNamespace, "--loglevel", "debug"}, args...),
	})
	if err != nil {
		return 1, err
	}
	if err := WaitAdmitting(ctx, s.Client, WebhookNamespace); err != nil {
		_ = s.Webhook.Stop()
		return 1, fmt.Errorf("%w\nwebhook log:\n%s", err, s.Webhook.Logs())
	}
	code := m.Run()
	if mem, err := s.Webhook.Memory(); err == nil {
		fmt.Printf("e2e: webhook memory after the scenario: rss=%.1f MiB peak_rss=%.1f MiB live_heap=%.1f MiB\n",
			mib(mem.RSSBytes), mib(mem.PeakRSSBytes), mib(mem.LiveHeapBytes))
	} else {
		fmt.Fprintln(os.Stderr, "e2e: reading webhook memory:", err)
	}
	if err := s.Webhook.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e teardown:", err)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "webhook log:\n%s\n", tail(s.Webhook.Logs(), 200))
	}
	return code, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func tail(s string, lines int) string {
	n := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			n++
			if n > lines {
				return s[i+1:]
			}
		}
	}
	return s
}
