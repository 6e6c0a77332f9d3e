// Package e2e holds the end-to-end tests: the built webhook binary runs as a
// process against a real kube-apiserver (see controlplane), registered by URL,
// and is driven only through the API server.
package e2e

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

// env is the control plane and webhook every test shares.
var env struct {
	cp      *controlplane.ControlPlane
	client  *harness.Client
	webhook *harness.Webhook
	binary  string
}

const webhookNamespace = "harvester-system"

func TestMain(m *testing.M) {
	code, err := setUp(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		code = 1
	}
	os.Exit(code)
}

func setUp(m *testing.M) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	root, err := filepath.Abs("..")
	if err != nil {
		return 1, err
	}
	tmp, err := os.MkdirTemp("", "e2e-webhook-")
	if err != nil {
		return 1, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	env.binary = os.Getenv("WEBHOOK_BIN")
	if env.binary == "" {
		if env.binary, err = harness.BuildWebhook(ctx, root, tmp); err != nil {
			return 1, err
		}
	}
	env.cp, err = controlplane.StartOrUse(ctx, controlplane.Options{
		BinDir: filepath.Join(root, "bin"),
		CRDDir: filepath.Join(root, "manifests", "crds"),
		Logf:   func(f string, a ...any) { fmt.Fprintf(os.Stderr, "controlplane: "+f+"\n", a...) },
	})
	if err != nil {
		return 1, err
	}
	defer func() { _ = env.cp.Stop() }()
	if env.client, err = harness.NewClient(env.cp.Config); err != nil {
		return 1, err
	}
	if _, err := env.client.Apply(ctx, []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"`+webhookNamespace+`"}}`)); err != nil {
		return 1, err
	}
	log, err := os.Create(filepath.Join(tmp, "webhook.log"))
	if err != nil {
		return 1, err
	}
	env.webhook, err = harness.StartWebhook(ctx, harness.WebhookOptions{
		Binary: env.binary, Kubeconfig: env.cp.Kubeconfig, Log: log,
		Args: []string{"--harvester-version", "v1.4", "--namespace", webhookNamespace, "--loglevel", "debug"},
	})
	if err != nil {
		return 1, err
	}
	if err := harness.WaitAdmitting(ctx, env.client, webhookNamespace); err != nil {
		_ = env.webhook.Stop()
		return 1, fmt.Errorf("%w\nwebhook log:\n%s", err, env.webhook.Logs())
	}
	code := m.Run()
	reportMemory()
	if err := env.webhook.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e teardown:", err)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "webhook log (%s):\n%s\n", log.Name(), tail(env.webhook.Logs(), 200))
	}
	return code, nil
}

// reportMemory prints the webhook's memory after the whole scenario.
func reportMemory() {
	mem, err := env.webhook.Memory()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: reading webhook memory:", err)
		return
	}
	fmt.Printf("e2e: webhook memory after the scenario: rss=%.1f MiB peak_rss=%.1f MiB live_heap=%.1f MiB\n",
		mib(mem.RSSBytes), mib(mem.PeakRSSBytes), mib(mem.LiveHeapBytes))
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
