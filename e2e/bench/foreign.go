package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lowmem/harvester-network-webhook/e2e/controlplane"
	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// process is what the report reads of a running webhook: ours through
// harness.Webhook, another binary through foreignWebhook.
type process interface {
	Pid() int
	Logs() string
	Exited() <-chan struct{}
	Stop() error
	Memory() (harness.Memory, error)
	Metric(name string) (float64, error)
	HealthURL() string // "" when there is no health port
}

// foreignWebhook runs a binary configured the upstream way — environment
// only (KUBECONFIG, NAMESPACE, WEBHOOK_SERVER_HTTPS_PORT), no health port,
// no registration by URL — so that upstream builds can be measured directly.
type foreignWebhook struct {
	cmd    *exec.Cmd
	url    string
	mu     sync.Mutex
	logs   bytes.Buffer
	exited chan struct{}
}

// foreignOptions are startForeign's optional settings.
type foreignOptions struct {
	port    int      // HTTPS port; 0: a free one
	env     []string // appended to the environment
	wrapper []string // run instead, with the binary and args appended
}

func startForeign(binary, kubeconfig string, args []string, log *os.File, o foreignOptions) (*foreignWebhook, error) {
	if o.port == 0 {
		ports, err := controlplane.FreePorts(1)
		if err != nil {
			return nil, err
		}
		o.port = ports[0]
	}
	f := &foreignWebhook{url: "https://127.0.0.1:" + strconv.Itoa(o.port), exited: make(chan struct{})}
	f.cmd = exec.Command(binary, args...)
	if len(o.wrapper) > 0 {
		f.cmd = exec.Command(o.wrapper[0], append(append(o.wrapper[1:len(o.wrapper):len(o.wrapper)], binary), args...)...)
	}
	f.cmd.Env = append(append(os.Environ(), "KUBECONFIG="+kubeconfig, "NAMESPACE="+harness.WebhookNamespace,
		"WEBHOOK_SERVER_HTTPS_PORT="+strconv.Itoa(o.port), "GODEBUG=gctrace=1"), o.env...)
	f.cmd.Stdout, f.cmd.Stderr = f, f
	if log != nil {
		f.cmd.Stdout, f.cmd.Stderr = teeWriter{f, log}, teeWriter{f, log}
	}
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := f.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	go func() { _ = f.cmd.Wait(); close(f.exited) }()
	return f, nil
}

type teeWriter struct {
	a, b interface{ Write([]byte) (int, error) }
}

func (t teeWriter) Write(p []byte) (int, error) {
	_, _ = t.b.Write(p)
	return t.a.Write(p)
}

func (f *foreignWebhook) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logs.Write(p)
}

func (f *foreignWebhook) Pid() int                { return f.cmd.Process.Pid }
func (f *foreignWebhook) HealthURL() string       { return "" }
func (f *foreignWebhook) Exited() <-chan struct{} { return f.exited }

func (f *foreignWebhook) Logs() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logs.String()
}

// Stop sends SIGTERM, and kills the process group after 15 s.
func (f *foreignWebhook) Stop() error {
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.exited:
		return nil
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
		<-f.exited
		return errors.New("did not stop within 15 s of SIGTERM; killed")
	}
}

// Memory has RSS and peak RSS only; the live heap comes from gctrace.
func (f *foreignWebhook) Memory() (harness.Memory, error) {
	var m harness.Memory
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", f.Pid()))
	if err != nil {
		return m, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			m.RSSBytes = kb << 10
		case "VmHWM:":
			m.PeakRSSBytes = kb << 10
		}
	}
	return m, errors.New("no /metrics")
}

// Metric is unknown: the binary has no health port.
func (f *foreignWebhook) Metric(name string) (float64, error) {
	return 0, fmt.Errorf("metric %s: no /metrics", name)
}
