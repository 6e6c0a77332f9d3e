// Command demo runs the webhook's main job locally: it starts a control plane
// (etcd and kube-apiserver from bin/), runs the webhook binary registered
// against it by URL, applies the example objects and waits for Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/lowmem/harvester-network-webhook/e2e/controlplane"
	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	binary := flag.String("webhook-bin", "bin/harvester-network-webhook", "webhook binary to run")
	binDir := flag.String("bin-dir", "bin", "directory holding etcd, kube-apiserver and kubectl")
	manifests := flag.String("manifests", "manifests", "directory holding crds/ and examples/")
	version := flag.String("harvester-version", "auto", "Harvester version whose rules the webhook enforces; auto reads it from the cluster")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(f string, a ...any) { fmt.Printf("==> "+f+"\n", a...) }

	logf("starting etcd and kube-apiserver")
	cp, err := controlplane.Start(ctx, controlplane.Options{
		BinDir: *binDir, CRDDir: filepath.Join(*manifests, "crds"), Logf: logf,
	})
	if err != nil {
		return err
	}
	defer func() { _ = cp.Stop() }()
	client, err := harness.NewClient(cp.Config)
	if err != nil {
		return err
	}
	if _, err := client.Apply(ctx, []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"harvester-system"}}`)); err != nil {
		return err
	}
	logf("starting %s (logs: %s)", *binary, filepath.Join(cp.WorkDir, "webhook.log"))
	log, err := os.Create(filepath.Join(cp.WorkDir, "webhook.log"))
	if err != nil {
		return err
	}
	defer func() { _ = log.Close() }()
	wh, err := harness.StartWebhook(ctx, harness.WebhookOptions{
		Binary: *binary, Kubeconfig: cp.Kubeconfig, Log: log,
		Args: []string{"--harvester-version", *version, "--namespace", "harvester-system"},
	})
	if err != nil {
		return err
	}
	defer func() { _ = wh.Stop() }()
	if err := harness.WaitAdmitting(ctx, client, "harvester-system"); err != nil {
		return err
	}
	if err := applyExamples(ctx, client, filepath.Join(*manifests, "examples")); err != nil {
		return err
	}
	kubectl := filepath.Join(*binDir, "kubectl")
	fmt.Printf(`
The webhook serves %s and is registered with the API server.
  %s
  kubeconfig: %s
  health:     http://127.0.0.1:%d/readyz  and  /metrics

Try a change the webhook denies (VLAN 5000 is out of range):
  %s --kubeconfig %s apply -f %s

or delete a NAD that a running VM uses:
  %s --kubeconfig %s -n demo delete network-attachment-definitions vlan100

Press Ctrl-C to stop everything.
`, wh.URL, rules(ctx, wh), cp.Kubeconfig, wh.HealthPort, kubectl, cp.Kubeconfig, filepath.Join(*manifests, "examples", "denied"), kubectl, cp.Kubeconfig)

	select {
	case <-ctx.Done():
		logf("stopping")
	case <-wh.Exited():
		return fmt.Errorf("the webhook exited:\n%s", wh.Logs())
	case <-cp.Done():
		return fmt.Errorf("the control plane exited: %w", cp.Err())
	}
	return nil
}

// applyExamples creates the example objects file by file, in name order.
func applyExamples(ctx context.Context, client *harness.Client, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		objs, err := client.Apply(ctx, b)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for _, o := range objs {
			fmt.Printf("    created %s %s\n", o.GetKind(), o.GetName())
		}
	}
	return nil
}

// rules returns the "rules: …" line of the webhook's /readyz: the rule set
// it chose and why.
func rules(ctx context.Context, wh *harness.Webhook) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, wh.HealthURL()+"/readyz", nil)
	if err != nil {
		return err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "rules: ") {
			return line
		}
	}
	return "rules: not reported"
}
