// Command imagee2e runs the image that `make image` builds in a container
// engine, as the flag-on chart runs it, against a local control plane
// (`make image-e2e`, which starts the engine with docker.sh; not part of
// `make test`, since CI has no engine). The container gets the host's
// network, a memory limit (-m 64m by default), a read-only root, no
// capabilities and the chart's environment, is started by the name the
// upstream chart uses (so PATH must find it), and registers itself by URL
// under the chart's flag-on RBAC. Through the API server it must mutate a
// VlanConfig, admit a valid NAD and deny a bad one; the report gives the
// container's memory peak from its cgroup.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/lowmem/harvester-network-webhook/e2e/controlplane"
	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

const (
	namespace   = harness.WebhookNamespace
	webhookUser = "system:serviceaccount:" + namespace + ":harvester-network-webhook"
	// badVLAN is the v1.9 rules' denial of manifests/examples/denied.
	badVLAN = "can't create nad demo/vlan5000 because vlan 5000 is out of range [0 .. 4094]"
)

type options struct {
	archive, ref, memory, docker string
	binDir, manifests            string
	requests, goMemLimitPercent  int
	timeout                      time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.archive, "archive", "bin/image/harvester-network-webhook.tar", "image archive to load")
	flag.StringVar(&o.ref, "ref", "ghcr.io/lowmem/harvester-network-webhook:dev", "the archive's image reference")
	flag.StringVar(&o.memory, "memory", "64Mi", "the container's memory limit")
	flag.IntVar(&o.goMemLimitPercent, "gomemlimit-percent", 90, "GOMEMLIMIT as a percentage of -memory, as the chart sets it")
	flag.IntVar(&o.requests, "requests", 200, "admission requests (half denied, half admitted, dry run) sent after the checks")
	flag.StringVar(&o.binDir, "bin-dir", "bin", "directory holding etcd, kube-apiserver and helm")
	flag.StringVar(&o.manifests, "manifests", "manifests", "directory holding crds/, examples/ and chart/")
	flag.StringVar(&o.docker, "docker", "docker", "container engine command (docker or podman)")
	flag.DurationVar(&o.timeout, "timeout", 3*time.Minute, "bound on the run after the control plane is up")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "image-e2e: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("image-e2e: PASS")
}

func logf(format string, args ...any) { fmt.Printf("image-e2e: "+format+"\n", args...) }

func run(ctx context.Context, o options) (err error) {
	limit, err := resource.ParseQuantity(o.memory)
	if err != nil {
		return fmt.Errorf("-memory: %w", err)
	}
	out, err := command(ctx, o.docker, "load", "-i", o.archive)
	if err != nil {
		return err
	}
	logf("%s", strings.TrimSpace(out))
	if _, err := command(ctx, o.docker, "image", "inspect", o.ref); err != nil {
		return fmt.Errorf("the archive did not load as %s: %w", o.ref, err)
	}

	cp, err := controlplane.Start(ctx, controlplane.Options{
		BinDir: o.binDir, CRDDir: filepath.Join(o.manifests, "crds"), Logf: logf,
		Users: []controlplane.User{{Name: webhookUser, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace}}},
	})
	if err != nil {
		return err
	}
	defer func() { _ = cp.Stop() }()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	client, err := harness.NewClient(cp.Config)
	if err != nil {
		return err
	}
	if _, err := client.Apply(ctx, []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"`+namespace+`"}}`)); err != nil {
		return err
	}
	rbac, err := command(ctx, filepath.Join(o.binDir, "helm"), "template", "harvester", filepath.Join(o.manifests, "chart"),
		"--namespace", namespace, "--set", "webhook.lowMemory.enabled=true", "--show-only", "templates/rbac.yaml")
	if err != nil {
		return err
	}
	if _, err := client.Apply(ctx, []byte(rbac)); err != nil {
		return fmt.Errorf("the chart's RBAC: %w", err)
	}
	logf("applied the flag-on chart's ServiceAccount, ClusterRole, Role and bindings")

	kubeconfig, err := readableKubeconfig(cp)
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(filepath.Dir(kubeconfig)) }()
	ports, err := controlplane.FreePorts(2)
	if err != nil {
		return err
	}
	httpsPort, healthPort := ports[0], ports[1]
	goMemLimit := limit.Value() * int64(o.goMemLimitPercent) / 100
	name := fmt.Sprintf("harvester-network-webhook-e2e-%d", os.Getpid())
	args := []string{"run", "--detach", "--name", name,
		"--network", "host", "--memory", strconv.FormatInt(limit.Value(), 10), "--memory-swap", strconv.FormatInt(limit.Value(), 10),
		"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--volume", kubeconfig + ":/kubeconfig:ro",
		"--env", "NAMESPACE=" + namespace, "--env", "HARVESTER_VERSION=v1.9", "--env", "GOMEMLIMIT=" + strconv.FormatInt(goMemLimit, 10),
		// The upstream chart's command: the binary by name, found on PATH.
		"--entrypoint", "harvester-network-webhook",
		o.ref,
		"--kubeconfig", "/kubeconfig", "--webhook-url", "https://127.0.0.1:" + strconv.Itoa(httpsPort),
		"--https-port", strconv.Itoa(httpsPort), "--health-port", strconv.Itoa(healthPort),
	}
	id, err := command(ctx, o.docker, args...)
	if err != nil {
		return err
	}
	id = strings.TrimSpace(id)
	defer func() {
		if err != nil {
			// The webhook logs to standard error.
			logs, _ := exec.Command(o.docker, "logs", "--tail", "40", id).CombinedOutput()
			logf("the container's last log lines:\n%s", logs)
		}
		_, _ = command(context.Background(), o.docker, "rm", "--force", id)
	}()
	logf("started container %.12s: %s, --network host, memory limit %s, GOMEMLIMIT=%d", id, o.ref, o.memory, goMemLimit)

	start := time.Now()
	if err := waitReady(ctx, healthPort); err != nil {
		return err
	}
	if err := harness.WaitAdmitting(ctx, client, namespace); err != nil {
		return err
	}
	logf("ready after %.1fs and called by the API server", time.Since(start).Seconds())
	if err := checkAdmission(ctx, client, o); err != nil {
		return err
	}
	return report(ctx, o, id, limit.Value())
}

// readableKubeconfig copies the chart identity's kubeconfig (credentials
// inline) where the image's user 65532 can read it.
func readableKubeconfig(cp *controlplane.ControlPlane) (string, error) {
	path, _, err := cp.KubeconfigFor(webhookUser)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "image-e2e-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "kubeconfig")
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	return out, os.WriteFile(out, b, 0o644)
}

// checkAdmission drives the webhook through the API server with the
// example objects, then sends o.requests dry-run NAD creates.
func checkAdmission(ctx context.Context, client *harness.Client, o options) error {
	examples := filepath.Join(o.manifests, "examples")
	for _, f := range []string{"01-nodes.yaml", "02-clusternetworks.yaml", "03-vlanconfig.yaml", "04-namespace.yaml"} {
		if err := applyFile(ctx, client, filepath.Join(examples, f)); err != nil {
			return err
		}
	}
	vc, err := client.Get(ctx, harness.MustObject(`{"apiVersion":"network.harvesterhci.io/v1beta1","kind":"VlanConfig","metadata":{"name":"vc-data"}}`))
	if err != nil || vc.GetLabels()["network.harvesterhci.io/clusternetwork"] != "data" {
		return fmt.Errorf("the VlanConfig was not mutated (labels %v): %w", vc.GetLabels(), err)
	}
	logf("mutated: VlanConfig vc-data got the clusternetwork label")
	// The webhook's caches follow the API server with a short delay.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err = applyFile(ctx, client, filepath.Join(examples, "05-nad.yaml"))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("the valid NAD demo/vlan100: %w", err)
	}
	logf("admitted: NAD demo/vlan100")
	bad, err := os.ReadFile(filepath.Join(examples, "denied", "nad-vlan5000.yaml"))
	if err != nil {
		return err
	}
	_, err = client.DryRunCreate(ctx, harness.MustObject(string(bad)))
	if err := harness.WantDenied(err, badVLAN); err != nil {
		return err
	}
	logf("denied: NAD demo/vlan5000: %s", badVLAN)

	good := harness.MustObject(strings.ReplaceAll(strings.ReplaceAll(string(bad), "vlan5000", "vlan200"), "5000", "200"))
	badObj := harness.MustObject(string(bad))
	for n := range o.requests {
		if n%2 == 0 {
			if _, err := client.DryRunCreate(ctx, good); err != nil {
				return fmt.Errorf("request %d, a valid NAD: %w", n, err)
			}
		} else if _, err := client.DryRunCreate(ctx, badObj); err == nil {
			return fmt.Errorf("request %d: a NAD with VLAN 5000 was admitted", n)
		}
	}
	logf("%d more dry-run NAD creates answered (half admitted, half denied)", o.requests)
	return nil
}

func applyFile(ctx context.Context, client *harness.Client, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	_, err = client.Apply(ctx, b)
	return err
}

func waitReady(ctx context.Context, port int) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the container's /readyz: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// report prints the container's memory as its cgroup and its process see
// it, and fails if the kernel killed it or the limit is not the one asked.
func report(ctx context.Context, o options, id string, limit int64) error {
	pidText, err := command(ctx, o.docker, "inspect", "--format", "{{.State.Pid}} {{.State.Running}} {{.State.OOMKilled}} {{.RestartCount}}", id)
	if err != nil {
		return err
	}
	var pid, restarts int
	var running, oomKilled bool
	if _, err := fmt.Sscan(pidText, &pid, &running, &oomKilled, &restarts); err != nil {
		return fmt.Errorf("docker inspect %q: %w", pidText, err)
	}
	if !running || oomKilled || restarts > 0 {
		return fmt.Errorf("the container is not running untroubled: running=%v oomKilled=%v restarts=%d", running, oomKilled, restarts)
	}
	m, err := cgroupMemory(pid)
	if err != nil {
		return err
	}
	if m.limit != limit {
		return fmt.Errorf("the cgroup's memory limit is %d bytes, want %d", m.limit, limit)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err
	}
	logf("memory (cgroup %s %s): limit %s, peak %s, now %s, OOM kills %d; process VmHWM %s, VmRSS %s",
		m.version, m.path, mib(m.limit), mib(m.peak), mib(m.usage), m.oomKills, procField(status, "VmHWM:"), procField(status, "VmRSS:"))
	if m.oomKills > 0 {
		return fmt.Errorf("the kernel killed a process of the container %d times", m.oomKills)
	}
	return nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func procField(status []byte, key string) string {
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// command runs name with args and returns its standard output; the error
// carries its standard error.
func command(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return "", err
	}
	return string(out), nil
}
