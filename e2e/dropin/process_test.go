package dropin

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lowmem/harvester-network-webhook/e2e/controlplane"
)

// process is a webhook started without waiting for it to become ready
// (harness.StartWebhook waits): the tests of a missing permission watch it
// stay unready.
type process struct {
	cmd        *exec.Cmd
	healthPort int
	url        string
	mu         sync.Mutex
	logs       bytes.Buffer
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.Write(b)
}

// Logs returns what the process printed so far.
func (p *process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// startProcess runs the webhook with the flags harness.StartWebhook passes
// and env as its whole environment; it is stopped when the test ends.
func startProcess(t *testing.T, kubeconfig string, env []string) *process {
	t.Helper()
	ports, err := controlplane.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	p := &process{healthPort: ports[1], url: "https://127.0.0.1:" + strconv.Itoa(ports[0])}
	p.cmd = exec.Command(binary,
		"--kubeconfig", kubeconfig,
		"--webhook-url", p.url,
		"--https-port", strconv.Itoa(ports[0]),
		"--health-port", strconv.Itoa(p.healthPort))
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-exited
			t.Error("webhook did not stop within 15 s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("webhook log:\n%s", p.Logs())
		}
	})
	return p
}

// readyz returns /readyz's status code and body; 0 if it does not answer.
func readyz(ctx context.Context, healthPort int) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(healthPort)+"/readyz", nil)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
