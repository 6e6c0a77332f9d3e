package ops

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// Every series /metrics promises is there and moves when driven; reviews
// naming random kinds and operations add no series and no memory.
func TestMetricsMoveAndStayBounded(t *testing.T) {
	ctx := t.Context()
	w := startWebhook(t, harness.WebhookOptions{}, "--profiling", "true")
	if err := harness.WaitAdmitting(ctx, client, "tenant"); err != nil {
		t.Fatal(err)
	}
	before := scrape(t, w)
	for _, name := range []string{
		"harvester_network_webhook_requests_total", "harvester_network_webhook_request_duration_seconds_bucket",
		"harvester_network_webhook_requests_in_flight", "harvester_network_webhook_cached_objects",
		"harvester_network_webhook_watch_restarts_total", "harvester_network_webhook_profile_info",
		"harvester_network_webhook_lru_bytes", "harvester_network_webhook_lru_lookups_total", "go_gc_heap_live_bytes",
	} {
		if !strings.Contains(before, "\n"+name) {
			t.Errorf("/metrics has no %s", name)
		}
	}
	// A NAD create reads the cluster network's full object, and the NAD
	// joins the cache.
	created := harness.MustObject(nad("metrics", 20))
	if _, err := client.Create(ctx, created); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Delete(context.WithoutCancel(ctx), created) }()
	const nads = `harvester_network_webhook_cached_objects{kind="NetworkAttachmentDefinition"}`
	harness.WaitFor(t, 10*time.Second, "the NAD counted", func() error {
		if got, was := value(scrape(t, w), nads), value(before, nads); got != was+1 {
			return fmt.Errorf("%s = %v, want %v", nads, got, was+1)
		}
		return nil
	})
	after := scrape(t, w)
	for _, s := range []string{
		`harvester_network_webhook_requests_total{kind="NetworkAttachmentDefinition",operation="CREATE",result="allowed",webhook="validation"}`,
		`harvester_network_webhook_fetches_total{kind="ClusterNetwork",result="ok"}`,
	} {
		if value(before, s) >= value(after, s) || value(after, s) == 0 {
			t.Errorf("%s did not move: %v → %v", s, value(before, s), value(after, s))
		}
	}
	if !strings.Contains(after, `harvester_network_webhook_profile_info{source="configured",version="v1.9"} 1`) {
		t.Error("the rule set is not on /metrics")
	}

	// In flight: a review whose body is still arriving counts.
	conn, err := tls.Dial("tcp", strings.TrimPrefix(w.URL, "https://"), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}) //nolint:gosec // a test talking to its own webhook
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("POST /v1/webhook/validation HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 5*time.Second, "a review in flight", func() error {
		if n := value(scrape(t, w), "harvester_network_webhook_requests_in_flight"); n != 1 {
			return fmt.Errorf("requests_in_flight = %v, want 1", n)
		}
		return nil
	})
	_ = conn.Close()
	harness.WaitFor(t, 5*time.Second, "no review in flight", func() error {
		if n := value(scrape(t, w), "harvester_network_webhook_requests_in_flight"); n != 0 {
			return fmt.Errorf("requests_in_flight = %v, want 0", n)
		}
		return nil
	})

	series, heap := countSeries(scrape(t, w)), liveHeap(t, w)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a test talking to its own webhook
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for n := range 10000 {
		review := fmt.Sprintf(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u%d",
"kind":{"group":"g%d","version":"v1","kind":"K%x"},"resource":{"group":"g","version":"v1","resource":"r"},
"name":"x","namespace":"default","operation":"OP%x","userInfo":{"username":"u"},"object":{}}}`, n, n, rand.Uint64(), rand.Uint64())
		resp, err := hc.Post(w.URL+"/v1/webhook/validation", "application/json", bytes.NewBufferString(review))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("review %d: HTTP %d", n, resp.StatusCode)
		}
	}
	seriesAfter, heapAfter := countSeries(scrape(t, w)), liveHeap(t, w)
	t.Logf("10,000 reviews of random kinds and operations: series %d → %d, live heap %.2f → %.2f MiB",
		series, seriesAfter, float64(heap)/(1<<20), float64(heapAfter)/(1<<20))
	if seriesAfter > series+2 {
		t.Errorf("series grew from %d to %d", series, seriesAfter)
	}
	if heapAfter > heap+2<<20 {
		t.Errorf("live heap grew from %d to %d bytes", heap, heapAfter)
	}
}

func scrape(t *testing.T, w *harness.Webhook) string {
	t.Helper()
	resp, err := http.Get(w.HealthURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return "\n" + string(b)
}

// value is the sample of the series named exactly s (name and labels), or 0.
func value(metrics, s string) float64 {
	i := strings.Index(metrics, "\n"+s+" ")
	if i < 0 {
		return 0
	}
	line := metrics[i+len(s)+2:]
	if j := strings.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	v, _ := strconv.ParseFloat(line, 64)
	return v
}

// countSeries counts the webhook's own samples.
func countSeries(metrics string) int {
	return strings.Count(metrics, "\nharvester_network_webhook_")
}

// liveHeap forces a collection (pprof's heap?gc=1) and reads the live heap.
func liveHeap(t *testing.T, w *harness.Webhook) int64 {
	t.Helper()
	resp, err := http.Get(w.HealthURL() + "/debug/pprof/heap?gc=1")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return int64(value(scrape(t, w), "go_gc_heap_live_bytes"))
}
