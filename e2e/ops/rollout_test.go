package ops

import (
	"strconv"
	"testing"
	"time"

	"github.com/lowmem/harvester-network-webhook/e2e/controlplane"
	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// drain is the replicas' --shutdown-drain: long enough for the balancer,
// which polls /readyz every 100 ms, to stop sending them connections.
const drain = "2s"

// Two replicas behind a balancer that follows /readyz, as a Service's
// endpoints do, under 50 clients through the API server: one is stopped and
// started again, then the other. No request fails.
func TestRollingRestartLosesNoRequest(t *testing.T) {
	ctx := t.Context()
	lb, err := harness.NewBalancer()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lb.Close() }()
	ports, err := controlplane.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	replicas := []harness.WebhookOptions{
		{HTTPSPort: ports[0], HealthPort: ports[1]},
		{HTTPSPort: ports[2], HealthPort: ports[3]},
	}
	var addrs, readyzURLs []string
	for _, r := range replicas {
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(r.HTTPSPort))
		readyzURLs = append(readyzURLs, "http://127.0.0.1:"+strconv.Itoa(r.HealthPort)+"/readyz")
	}
	lb.SetBackends(addrs, readyzURLs)
	flags := []string{"--webhook-url", "https://" + lb.Addr, "--shutdown-drain", drain}
	running := make([]*harness.Webhook, len(replicas))
	for i, r := range replicas {
		running[i] = startWebhook(t, r, flags...)
	}
	if err := harness.WaitAdmitting(ctx, client, "tenant"); err != nil {
		t.Fatal(err)
	}

	l := startLoad(t)
	time.Sleep(2 * time.Second)
	for i, r := range replicas {
		began := time.Now()
		if err := running[i].Stop(); err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
		t.Logf("replica %d stopped in %s (drain %s); %d requests so far, %d failed", i,
			time.Since(began).Round(100*time.Millisecond), drain, l.requests.Load(), l.failures.Load())
		running[i] = startWebhook(t, r, flags...)
		time.Sleep(2 * time.Second)
	}
	l.stop(t, "rolling restart of two replicas")
}
