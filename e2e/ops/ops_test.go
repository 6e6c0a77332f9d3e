// Package ops runs the webhook as an operator lives with it: configurations
// edited by hand, rollouts of two replicas behind a balancer under load, the
// API server out of reach, audit mode, and what /metrics shows meanwhile.
// The tests share one control plane and run one at a time: the webhook
// configurations are cluster-wide.
package ops

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/lowmem/harvester-network-webhook/e2e/controlplane"
	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

var (
	repoRoot string
	binary   string
	cp       *controlplane.ControlPlane
	client   *harness.Client
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		return 1
	}
	var err error
	if repoRoot, err = filepath.Abs(filepath.Join("..", "..")); err != nil {
		return fail(err)
	}
	tmp, err := os.MkdirTemp("", "e2e-ops-")
	if err != nil {
		return fail(err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if binary, err = harness.WebhookBinary(ctx, repoRoot, tmp); err != nil {
		return fail(err)
	}
	cp, err = controlplane.Start(ctx, controlplane.Options{
		BinDir: filepath.Join(repoRoot, "bin"),
		CRDDir: filepath.Join(repoRoot, "manifests", "crds"),
		Logf:   func(f string, a ...any) { fmt.Fprintf(os.Stderr, "controlplane: "+f+"\n", a...) },
	})
	if err != nil {
		return fail(err)
	}
	defer func() { _ = cp.Stop() }()
	if client, err = harness.NewClient(cp.Config); err != nil {
		return fail(err)
	}
	namespace := `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"` + harness.WebhookNamespace + `"}}`
	if _, err := client.Apply(ctx, []byte(namespace+"\n---\n"+harness.TenantNetwork)); err != nil {
		return fail(err)
	}
	return m.Run()
}

func nad(name string, vlan int) string {
	return harness.TenantNAD(name, fmt.Sprintf(`"vlan":%d`, vlan))
}

// startWebhook runs the webhook with the v1.9 rules, stopped when the test
// ends; extra flags come last and win.
func startWebhook(t *testing.T, opts harness.WebhookOptions, extra ...string) *harness.Webhook {
	t.Helper()
	if opts.Binary == "" {
		opts.Binary = binary
	}
	if opts.Kubeconfig == "" {
		opts.Kubeconfig = cp.Kubeconfig
	}
	opts.Args = append([]string{"--namespace", harness.WebhookNamespace, "--harvester-version", "v1.9"}, extra...)
	w, err := harness.StartWebhook(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("webhook log:\n%s", w.Logs())
		}
	})
	return w
}

// clients is how many send reviews at once in the load tests, as the
// issue's "50 clients".
const clients = 50

// load sends admission requests through the API server from many clients
// until stop is called: dry-run creates of a valid NAD, each of which the
// webhooks must admit. A call that fails (the webhook unreachable: the
// validating failure policy is Fail) counts as a failure.
type load struct {
	requests, failures atomic.Int64
	mu                 sync.Mutex
	errors             []string // the first few
	cancel             context.CancelFunc
	done               sync.WaitGroup
}

func startLoad(t *testing.T) *load {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	l := &load{cancel: cancel}
	obj := harness.MustObject(nad("load", 10))
	for range clients {
		l.done.Go(func() {
			for ctx.Err() == nil {
				_, err := client.DryRunCreate(ctx, obj)
				if ctx.Err() != nil {
					return
				}
				l.requests.Add(1)
				if err != nil {
					l.failures.Add(1)
					l.mu.Lock()
					if len(l.errors) < 5 {
						l.errors = append(l.errors, err.Error())
					}
					l.mu.Unlock()
				}
			}
		})
	}
	return l
}

// stop ends the load and reports it.
func (l *load) stop(t *testing.T, what string) {
	t.Helper()
	l.cancel()
	l.done.Wait()
	t.Logf("%s: %d requests through the API server, %d failed", what, l.requests.Load(), l.failures.Load())
	if l.requests.Load() == 0 {
		t.Errorf("%s: no request went through", what)
	}
	if l.failures.Load() > 0 {
		t.Errorf("%s: %d failed requests, e.g. %q", what, l.failures.Load(), l.errors)
	}
}

// kubeconfigVia writes a copy of the admin kubeconfig whose server is addr
// (host:port), keeping the API server's name for TLS.
func kubeconfigVia(t *testing.T, addr string) string {
	t.Helper()
	kc, err := clientcmd.LoadFromFile(cp.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range kc.Clusters {
		host := strings.TrimPrefix(c.Server, "https://")
		c.Server = "https://" + addr
		if c.TLSServerName == "" {
			c.TLSServerName = strings.Split(host, ":")[0]
		}
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// warningsClient is a client whose API warnings are collected.
func warningsClient(t *testing.T) (*harness.Client, *warnings) {
	t.Helper()
	w := &warnings{}
	cfg := rest.CopyConfig(cp.Config)
	cfg.WarningHandler = w
	c, err := harness.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

type warnings struct {
	mu   sync.Mutex
	seen []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, text)
}

func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.seen...)
}
