// Package hostile runs the webhook binary against hostile and unlucky
// conditions: malformed and oversized reviews sent straight to its port
// (the bad-input catalogue), an API server that is slow or whose watches
// expire (the fault tests), and the TLS it accepts. The local kube-apiserver
// runs with a client certificate for webhooks (AdmissionConfiguration
// kubeConfigFile), and the webhook with --client-ca-file requiring it; the
// webhook reaches the API server through a FaultProxy the tests slow down
// or cut.
package hostile

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/lowmem/harvester-network-webhook/e2e/controlplane"
	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// env is what every test of the package shares.
var env struct {
	cp      *controlplane.ControlPlane
	client  *harness.Client
	webhook *harness.Webhook
	// proxy stands between the webhook and the API server.
	proxy *harness.FaultProxy
	// clientCert is signed by the CA the webhook requires (the API
	// server presents the same); otherCert by another CA.
	clientCert, otherCert tls.Certificate
	// auditLog records every request on vlanstatuses (the fault tests
	// read the webhook's watches from it).
	auditLog string
}

// compactionInterval is the API server's etcd compaction period: with the
// watch cache off, a watch resumed from a revision compacted away expires.
const compactionInterval = 5 * time.Second

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e/hostile setup:", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return 1, err
	}
	tmp, err := os.MkdirTemp("", "e2e-hostile-")
	if err != nil {
		return 1, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	binary, err := harness.WebhookBinary(ctx, root, tmp)
	if err != nil {
		return 1, err
	}
	pki, err := writeClientPKI(tmp)
	if err != nil {
		return 1, err
	}
	env.clientCert, env.otherCert = pki.client, pki.other
	env.auditLog = filepath.Join(tmp, "audit.log")
	auditPolicy := filepath.Join(tmp, "audit-policy.yaml")
	if err := os.WriteFile(auditPolicy, []byte(`apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseComplete]
rules:
  - level: Metadata
    resources: [{group: network.harvesterhci.io, resources: [vlanstatuses]}]
  - level: None
`), 0o600); err != nil {
		return 1, err
	}
	// The webhook's own control plane: it needs API server flags an
	// existing cluster (E2E_KUBECONFIG) would not have.
	env.cp, err = controlplane.Start(ctx, controlplane.Options{
		BinDir: filepath.Join(root, "bin"),
		CRDDir: filepath.Join(root, "manifests", "crds"),
		Logf:   func(f string, a ...any) { fmt.Fprintf(os.Stderr, "controlplane: "+f+"\n", a...) },
		ExtraAPIServerArgs: []string{
			"--admission-control-config-file=" + pki.admissionConfig,
			"--watch-cache=false",
			"--etcd-compaction-interval=" + compactionInterval.String(),
			"--audit-policy-file=" + auditPolicy,
			"--audit-log-path=" + env.auditLog,
			"--audit-log-format=json",
			"--audit-log-mode=blocking",
		},
	})
	if err != nil {
		return 1, err
	}
	defer func() { _ = env.cp.Stop() }()
	if env.client, err = harness.NewClient(env.cp.Config); err != nil {
		return 1, err
	}
	if _, err := env.client.Apply(ctx, []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"`+harness.WebhookNamespace+`"}}`)); err != nil {
		return 1, err
	}
	u, err := url.Parse(env.cp.Config.Host)
	if err != nil {
		return 1, err
	}
	if env.proxy, err = harness.StartFaultProxy(u.Host); err != nil {
		return 1, err
	}
	defer env.proxy.Close()
	kubeconfig, err := proxiedKubeconfig(env.cp.Kubeconfig, tmp, env.proxy.Addr)
	if err != nil {
		return 1, err
	}
	// E2E_WEBHOOK_LOG keeps the webhook's whole log in that file.
	var log io.Writer
	if path := os.Getenv("E2E_WEBHOOK_LOG"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return 1, err
		}
		defer func() { _ = f.Close() }()
		log = f
	}
	env.webhook, err = harness.StartWebhook(ctx, harness.WebhookOptions{
		Binary: binary, Kubeconfig: kubeconfig, Log: log,
		Args: []string{"--namespace", harness.WebhookNamespace, "--harvester-version", "v1.9", "--loglevel", "debug",
			"--profiling", "true", "--client-ca-file", pki.caFile},
	})
	if err != nil {
		return 1, err
	}
	if err := harness.WaitAdmitting(ctx, env.client, harness.WebhookNamespace); err != nil {
		_ = env.webhook.Stop()
		return 1, fmt.Errorf("%w\nwebhook log:\n%s", err, env.webhook.Logs())
	}
	code := m.Run()
	if err := env.webhook.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e/hostile teardown:", err)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "webhook log (tail):\n%s\n", tail(env.webhook.Logs(), 150))
	}
	return code, nil
}

// proxiedKubeconfig writes a copy of kubeconfig whose server is the proxy.
func proxiedKubeconfig(kubeconfig, dir, proxy string) (string, error) {
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		return "", err
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://" + proxy
	}
	path := filepath.Join(dir, "webhook.kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}

func tail(s string, lines int) string {
	for i, n := len(s)-1, 0; i >= 0; i-- {
		if s[i] == '\n' {
			if n++; n > lines {
				return s[i+1:]
			}
		}
	}
	return s
}
