package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lowmem/harvester-network-webhook/e2e/controlplane"
)

// WebhookBinary returns the binary WEBHOOK_BIN names, or builds the module
// at repoRoot into dir as `make build` does: static, without cgo.
func WebhookBinary(ctx context.Context, repoRoot, dir string) (string, error) {
	if bin := os.Getenv("WEBHOOK_BIN"); bin != "" {
		return bin, nil
	}
	out := filepath.Join(dir, "harvester-network-webhook")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, b)
	}
	return out, nil
}

// WebhookOptions configures StartWebhook.
type WebhookOptions struct {
	Binary     string
	Kubeconfig string
	// Args are extra flags, e.g. --harvester-version.
	Args []string
	// Env replaces the process environment when non-nil (KUBECONFIG is
	// passed by flag either way).
	Env []string
	// Log receives the process's output; it is also kept for Logs().
	Log io.Writer
	// Wrapper, when set, is run instead, with the binary and its flags
	// appended (e.g. a shell that joins a cgroup and then execs them).
	Wrapper []string
	// HTTPSPort and HealthPort fix the ports (0: free ones), so that a
	// restarted process keeps its URL.
	HTTPSPort, HealthPort int
}

// Webhook is a running webhook process, registered by URL on loopback.
type Webhook struct {
	cmd        *exec.Cmd
	HTTPSPort  int
	HealthPort int
	URL        string
	logs       *syncBuffer
	exited     chan struct{}
	waitErr    error
}

// StartWebhook runs the binary on free loopback ports and waits until
// /readyz answers; registration follows on its own (see WaitRegistered).
func StartWebhook(ctx context.Context, opts WebhookOptions) (*Webhook, error) {
	ports, err := controlplane.FreePorts(2)
	if err != nil {
		return nil, err
	}
	w := &Webhook{HTTPSPort: ports[0], HealthPort: ports[1], logs: &syncBuffer{}, exited: make(chan struct{})}
	if opts.HTTPSPort != 0 {
		w.HTTPSPort = opts.HTTPSPort
	}
	if opts.HealthPort != 0 {
		w.HealthPort = opts.HealthPort
	}
	w.URL = "https://127.0.0.1:" + strconv.Itoa(w.HTTPSPort)
	// No drain on SIGTERM unless a test asks for one (opts.Args come
	// later and win): nothing routes by readiness to a process, and each
	// stop would wait for it.
	args := append([]string{
		"--kubeconfig", opts.Kubeconfig,
		"--webhook-url", w.URL,
		"--https-port", strconv.Itoa(w.HTTPSPort),
		"--health-port", strconv.Itoa(w.HealthPort),
		"--shutdown-drain", "0s",
	}, opts.Args...)
	w.cmd = exec.Command(opts.Binary, args...)
	if len(opts.Wrapper) > 0 {
		w.cmd = exec.Command(opts.Wrapper[0], append(append(opts.Wrapper[1:len(opts.Wrapper):len(opts.Wrapper)], opts.Binary), args...)...)
	}
	w.cmd.Env = opts.Env
	var out io.Writer = w.logs
	if opts.Log != nil {
		out = io.MultiWriter(w.logs, opts.Log)
	}
	w.cmd.Stdout, w.cmd.Stderr = out, out
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := w.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", opts.Binary, err)
	}
	go func() { w.waitErr = w.cmd.Wait(); close(w.exited) }()
	if err := w.waitReady(ctx); err != nil {
		_ = w.Stop()
		return nil, fmt.Errorf("%w\nwebhook log:\n%s", err, w.Logs())
	}
	return w, nil
}

func (w *Webhook) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", w.HealthPort)
	for {
		resp, err := http.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-w.exited:
			return fmt.Errorf("webhook exited before it was ready: %w", w.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("webhook not ready: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Pid is the process id.
func (w *Webhook) Pid() int { return w.cmd.Process.Pid }

// Logs returns everything the process printed so far.
func (w *Webhook) Logs() string { return w.logs.String() }

// Exited is closed when the process ends.
func (w *Webhook) Exited() <-chan struct{} { return w.exited }

// Stop sends SIGTERM and waits up to 15 s before killing.
func (w *Webhook) Stop() error {
	select {
	case <-w.exited:
		return nil
	default:
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.exited:
		var exit *exec.ExitError
		if errors.As(w.waitErr, &exit) {
			return fmt.Errorf("webhook exited with %w", w.waitErr)
		}
		return nil
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
		<-w.exited
		return errors.New("webhook did not stop within 15 s of SIGTERM; killed")
	}
}

// Memory is a process's memory as the kernel and the Go runtime see it.
type Memory struct {
	RSSBytes      int64 // VmRSS
	PeakRSSBytes  int64 // VmHWM
	LiveHeapBytes int64 // go_gc_heap_live_bytes (runtime/metrics /gc/heap/live:bytes)
}

// Memory reads /proc and the webhook's /metrics.
func (w *Webhook) Memory() (Memory, error) {
	var m Memory
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.Pid()))
	if err != nil {
		return m, err
	}
	m.RSSBytes = procField(status, "VmRSS:")
	m.PeakRSSBytes = procField(status, "VmHWM:")
	v, err := w.Metric("go_gc_heap_live_bytes")
	m.LiveHeapBytes = int64(v)
	return m, err
}

// HealthURL is the base URL of the health port (/metrics, and /debug/pprof
// when started with --profiling true).
func (w *Webhook) HealthURL() string { return fmt.Sprintf("http://127.0.0.1:%d", w.HealthPort) }

// Metric returns the value of an unlabelled series from /metrics.
func (w *Webhook) Metric(name string) (float64, error) {
	resp, err := http.Get(w.HealthURL() + "/metrics")
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == name {
			return strconv.ParseFloat(f[1], 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

func procField(status []byte, key string) int64 {
	for _, line := range bytes.Split(status, []byte("\n")) {
		if f := strings.Fields(string(line)); len(f) >= 2 && f[0] == key {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// WaitAdmitting waits until the API server calls the webhook: a dry-run
// create of a NAD with VLAN 5000 in namespace is denied by it.
func WaitAdmitting(ctx context.Context, c *Client, namespace string) error {
	probe := MustObject(fmt.Sprintf(`{"apiVersion":"k8s.cni.cncf.io/v1","kind":"NetworkAttachmentDefinition",
"metadata":{"name":"admission-probe","namespace":%q},"spec":{"config":"{\"type\":\"bridge\",\"bridge\":\"x-br\",\"vlan\":5000}"}}`, namespace))
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		ri, err := c.Resource(probe)
		if err == nil {
			_, err = ri.Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil && strings.Contains(err.Error(), "denied the request") {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the API server does not call the webhook yet (last answer: %w)", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
