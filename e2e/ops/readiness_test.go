package ops

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// outage is how long the webhook loses the API server: the minute.
const outage = 60 * time.Second

// With the API server out of its reach for a minute, the webhook goes
// unready saying why, and ready again after; its decisions then reflect what
// changed meanwhile.
func TestReadinessFollowsTheAPIServer(t *testing.T) {
	ctx := t.Context()
	path, err := harness.StartFaultProxy(strings.TrimPrefix(cp.Config.Host, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	defer path.Close()
	w := startWebhook(t, harness.WebhookOptions{Kubeconfig: kubeconfigVia(t, path.Addr)}, "--watch-failure-grace", "5s")
	if err := harness.WaitAdmitting(ctx, client, "tenant"); err != nil {
		t.Fatal(err)
	}
	vlan100 := harness.MustObject(nad("vlan100", 100))
	if _, err := client.Create(ctx, vlan100); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Delete(ctx, vlan100) }()

	path.Pause()
	cut := time.Now()
	harness.WaitFor(t, 30*time.Second, "unready while the API server is out of reach", func() error {
		code, body := readyz(t, w)
		failing := strings.Contains(body, "list/watch failing for") || strings.Contains(body, "no watch for")
		if code != http.StatusServiceUnavailable || !failing {
			return fmt.Errorf("/readyz = %d %q", code, body)
		}
		return nil
	})
	_, body := readyz(t, w)
	t.Logf("unready after %s: %s", time.Since(cut).Round(time.Second), strings.SplitN(body, "\n", 2)[0])

	// Meanwhile a VM starts on the network.
	vmi := harness.MustObject(`{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
"metadata":{"name":"web","namespace":"tenant"},
"spec":{"networks":[{"name":"nic","multus":{"networkName":"tenant/vlan100"}}]},
"status":{"nodeName":"n1"}}`)
	if _, err := client.Create(ctx, vmi); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Delete(ctx, vmi) }()
	time.Sleep(time.Until(cut.Add(outage)))

	if err := path.Resume(); err != nil {
		t.Fatal(err)
	}
	restored := time.Now()
	harness.WaitFor(t, 60*time.Second, "ready again once the API server is back", func() error {
		if code, body := readyz(t, w); code != http.StatusOK {
			return fmt.Errorf("/readyz = %d %q", code, body)
		}
		return nil
	})
	t.Logf("ready %s after the API server came back", time.Since(restored).Round(100*time.Millisecond))
	if n := value(scrape(t, w), `harvester_network_webhook_watch_restarts_total{kind="VlanConfig"}`); n < 1 {
		t.Errorf("watch restarts of VlanConfig after the outage: %v, want at least 1", n)
	}
	// The VM started during the outage keeps its network.
	harness.Eventually(t, "the NAD used by the VM started during the outage", func() error {
		return harness.WantDenied(client.DryRunDelete(ctx, vlan100),
			"can't delete nad tenant/vlan100 because it's still used by VM(s) tenant/web which must be stopped at first")
	})
}

// readyz returns w's /readyz answer.
func readyz(t *testing.T, w *harness.Webhook) (int, string) {
	t.Helper()
	resp, err := http.Get(w.HealthURL() + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
