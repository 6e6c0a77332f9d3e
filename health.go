package main

import (
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lowmem/harvester-network-webhook/informers"
)

// readiness is what /readyz reports on. The rule set and the informers are
// set once chosen and started.
type readiness struct {
	rules      atomic.Pointer[ruleSet]
	informers  atomic.Pointer[informers.Informers]
	certLoaded atomic.Bool
	registered atomic.Bool
}

// check returns why the webhook cannot answer correctly yet, or nil.
func (r *readiness) check() error {
	inf := r.informers.Load()
	if inf == nil {
		return errors.New("choosing the Harvester rule set")
	}
	if err := inf.Ready(); err != nil {
		return err
	}
	if !r.certLoaded.Load() {
		return fmt.Errorf("serving certificate not loaded yet")
	}
	return nil
}

// healthHandler serves the probes and /metrics, and pprof (with expvar) when
// profiling: opt-in, as the port is plain HTTP without authentication.
func healthHandler(state *readiness, m *metrics, profiling bool) http.Handler {
	r := chi.NewRouter()
	if profiling {
		r.Mount("/debug", middleware.Profiler())
	}
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	r.Get("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		code, msg := http.StatusOK, "ok\n"
		if err := state.check(); err != nil {
			code, msg = http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n"
		} else if !state.registered.Load() {
			msg = "ok (webhook configurations not registered yet)\n"
		}
		if rules := state.rules.Load(); rules != nil {
			msg += "rules: " + rules.String() + "\n"
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(msg))
	})
	r.Handle("/metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	return r
}

// metrics holds the Prometheus series: admission requests and latency, the
// cache sizes, and the Go runtime's own (live heap included).
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	profile  *prometheus.GaugeVec
}

func newMetrics(state *readiness) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harvester_network_webhook_requests_total",
			Help: "Admission reviews answered, by webhook, kind, operation and result (allowed, patched, denied, error).",
		}, []string{"webhook", "kind", "operation", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "harvester_network_webhook_request_duration_seconds",
			Help:    "Time to answer an admission review, from the request read to the response written.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5, 1},
		}, []string{"webhook"}),
		profile: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "harvester_network_webhook_profile_info",
			Help: "The Harvester rule set in use (1), by version and by source: configured, detected, or fallback when the cluster could not be asked.",
		}, []string{"version", "source"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.profile,
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsAll)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		cacheCollector{state: state})
	return m
}

// setRules publishes the rule set chosen.
func (m *metrics) setRules(r ruleSet) {
	m.profile.WithLabelValues(r.version.String(), r.source).Set(1)
}

// Observe implements admission.Recorder.
func (m *metrics) Observe(webhook, kind, operation, result string, d time.Duration) {
	m.requests.WithLabelValues(webhook, kind, operation, result).Inc()
	m.latency.WithLabelValues(webhook).Observe(d.Seconds())
}

// cacheCollector reports the informer and LRU figures when scraped, once
// the informers exist.
type cacheCollector struct{ state *readiness }

var (
	objectsDesc = prometheus.NewDesc("harvester_network_webhook_cached_objects",
		"Objects held by each informer (metadata or projection).", []string{"kind"}, nil)
	lruBytesDesc = prometheus.NewDesc("harvester_network_webhook_lru_bytes",
		"Estimated bytes held by the cache of full objects.", nil, nil)
	lruEntriesDesc = prometheus.NewDesc("harvester_network_webhook_lru_entries",
		"Entries in the cache of full objects.", nil, nil)
	lruLookupsDesc = prometheus.NewDesc("harvester_network_webhook_lru_lookups_total",
		"Lookups in the cache of full objects, by result (hit, miss).", []string{"result"}, nil)
	lruEvictionsDesc = prometheus.NewDesc("harvester_network_webhook_lru_evictions_total",
		"Entries evicted from the cache of full objects to stay within its budget.", nil, nil)
)

func (c cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{objectsDesc, lruBytesDesc, lruEntriesDesc, lruLookupsDesc, lruEvictionsDesc} {
		ch <- d
	}
}

func (c cacheCollector) Collect(ch chan<- prometheus.Metric) {
	inf := c.state.informers.Load()
	if inf == nil {
		return
	}
	for kind, n := range inf.Counts() {
		ch <- prometheus.MustNewConstMetric(objectsDesc, prometheus.GaugeValue, float64(n), kind)
	}
	s := inf.CacheStats()
	ch <- prometheus.MustNewConstMetric(lruBytesDesc, prometheus.GaugeValue, float64(s.Bytes))
	ch <- prometheus.MustNewConstMetric(lruEntriesDesc, prometheus.GaugeValue, float64(s.Entries))
	ch <- prometheus.MustNewConstMetric(lruLookupsDesc, prometheus.CounterValue, float64(s.Hits), "hit")
	ch <- prometheus.MustNewConstMetric(lruLookupsDesc, prometheus.CounterValue, float64(s.Misses), "miss")
	ch <- prometheus.MustNewConstMetric(lruEvictionsDesc, prometheus.CounterValue, float64(s.Evictions))
}
