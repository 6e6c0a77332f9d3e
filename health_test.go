package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/lowmem/harvester-network-webhook/admission"
	"github.com/lowmem/harvester-network-webhook/certs"
	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

func TestProfilingIsOptIn(t *testing.T) {
	state := &runState{}
	state.informers.Store(informerstest.NewStore(t))
	for _, profiling := range []bool{false, true} {
		h := healthHandler(state, newMetrics(state), profiling)
		for path, want := range map[string]int{"/healthz": http.StatusOK, "/debug/pprof/heap": http.StatusNotFound} {
			if profiling && path == "/debug/pprof/heap" {
				want = http.StatusOK
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != want {
				t.Errorf("profiling=%v: GET %s = %d, want %d", profiling, path, rec.Code, want)
			}
		}
	}
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// /readyz and /metrics say which rule set is in use, and /readyz says when
// it is still being chosen.
// /readyz follows the parts as they come up, and goes unready at once when
// the shutdown starts; with the rule set on every answer.
func TestReadyzFollowsTheParts(t *testing.T) {
	state := &runState{}
	m := newMetrics(state)
	h := healthHandler(state, m, false)
	if code, body := get(t, h, "/readyz"); code != http.StatusServiceUnavailable || body != "not ready: choosing the Harvester rule set\n" {
		t.Errorf("before the choice: /readyz = %d %q", code, body)
	}
	if _, body := get(t, h, "/metrics"); strings.Contains(body, "harvester_network_webhook_profile_info{") ||
		strings.Contains(body, "harvester_network_webhook_cached_objects") {
		t.Errorf("before the choice, /metrics has a rule set or caches:\n%s", body)
	}

	rules := ruleSet{version: admission.V1_7, source: "detected", detail: "Harvester v1.6 or v1.7"}
	state.rules.Store(&rules)
	m.setRules(rules)
	state.informers.Store(informerstest.NewStore(t))
	if code, body := get(t, h, "/readyz"); code != http.StatusServiceUnavailable ||
		body != "not ready: serving certificate not loaded yet\nrules: v1.7 (detected: Harvester v1.6 or v1.7)\n" {
		t.Errorf("without a certificate: /readyz = %d %q", code, body)
	}
	keeper, err := certs.NewKeeper(fake.NewClientset().CoreV1().Secrets("harvester-system"), certs.Options{Namespace: "harvester-system"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan error)
	go func() { stopped <- keeper.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Error(err)
		}
	}()
	<-keeper.Loaded()
	state.certs.Store(keeper)
	if code, body := get(t, h, "/readyz"); code != http.StatusServiceUnavailable ||
		body != "not ready: HTTPS listener not open yet\nrules: v1.7 (detected: Harvester v1.6 or v1.7)\n" {
		t.Errorf("before listening: /readyz = %d %q", code, body)
	}
	state.listening.Store(true)
	if code, body := get(t, h, "/readyz"); code != http.StatusOK ||
		body != "ok (webhook configurations not registered yet)\nrules: v1.7 (detected: Harvester v1.6 or v1.7)\n" {
		t.Errorf("ready: /readyz = %d %q", code, body)
	}
	state.registered.Store(true)
	if code, body := get(t, h, "/readyz"); code != http.StatusOK || body != "ok\nrules: v1.7 (detected: Harvester v1.6 or v1.7)\n" {
		t.Errorf("registered: /readyz = %d %q", code, body)
	}
	state.draining.Store(true)
	if code, body := get(t, h, "/readyz"); code != http.StatusServiceUnavailable ||
		body != "not ready: shutting down\nrules: v1.7 (detected: Harvester v1.6 or v1.7)\n" {
		t.Errorf("draining: /readyz = %d %q", code, body)
	}
	if code, _ := get(t, h, "/healthz"); code != http.StatusOK {
		t.Errorf("draining: /healthz = %d, want 200: liveness does not follow readiness", code)
	}
	_, body := get(t, h, "/metrics")
	for _, want := range []string{
		`harvester_network_webhook_profile_info{source="detected",version="v1.7"} 1`,
		`harvester_network_webhook_cached_objects{kind="VlanConfig"} 0`,
		`harvester_network_webhook_watch_restarts_total{kind="VlanConfig"} 0`,
		`harvester_network_webhook_requests_in_flight 0`,
		"# TYPE go_gc_heap_live_bytes gauge\ngo_gc_heap_live_bytes ",
		"# TYPE go_memstats_heap_inuse_bytes gauge\ngo_memstats_heap_inuse_bytes ",
		"# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ",
		"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ",
		`harvester_network_webhook_certificate_expiry_timestamp_seconds{certificate="serving"} ` +
			strconv.FormatFloat(float64(keeper.Status().LeafNotAfter.Unix()), 'g', -1, 64),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	for _, name := range []string{"go_memstats_heap_inuse_bytes", "process_resident_memory_bytes", "go_goroutines"} {
		_, rest, _ := strings.Cut(body, "\n"+name+" ")
		line, _, _ := strings.Cut(rest, "\n")
		if v, err := strconv.ParseFloat(line, 64); err != nil || v <= 0 {
			t.Errorf("%s = %q, want a positive number", name, line)
		}
	}
	// Prometheus asks for gzip; the answer is plain (no pooled gzip writer).
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if enc := rec.Header().Get("Content-Encoding"); enc != "" || !strings.Contains(rec.Body.String(), "harvester_network_webhook_requests_in_flight") {
		t.Errorf("a scrape accepting gzip got Content-Encoding %q", enc)
	}
	if got := (ruleSet{version: admission.V1_9, source: "configured"}).String(); got != "v1.9 (configured)" {
		t.Errorf("a configured rule set reads %q", got)
	}
}
