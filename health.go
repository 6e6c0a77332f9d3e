package main

import (
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

// readiness is what /readyz reports on.
type readiness struct {
	informers  *informers.Informers
	certLoaded atomic.Bool
	registered atomic.Bool
}

// check returns why the webhook cannot answer correctly yet, or nil.
func (r *readiness) check() error {
	if err := r.informers.Ready(); err != nil {
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
		if err := state.check(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		msg := "ok\n"
		if !state.registered.Load() {
			msg = "ok (webhook configurations not registered yet)\n"
		}
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
}

func newMetrics(inf *informers.Informers) *metrics {
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
	}
	m.registry.MustRegister(m.requests, m.latency,
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsAll)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		cacheCollector{inf: inf})
	return m
}

// Observe implements admission.Recorder.
func (m *metrics) Observe(webhook, kind, operation, result string, d time.Duration) {
	m.requests.WithLabelValues(webhook, kind, operation, result).Inc()
	m.latency.WithLabelValues(webhook).Observe(d.Seconds())
}

// cacheCollector reports the informer and LRU figures when scraped.
type cacheCollector struct{ inf *informers.Informers }

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
	for kind, n := range c.inf.Counts() {
		ch <- prometheus.MustNewConstMetric(objectsDesc, prometheus.GaugeValue, float64(n), kind)
	}
	s := c.inf.CacheStats()
	ch <- prometheus.MustNewConstMetric(lruBytesDesc, prometheus.GaugeValue, float64(s.Bytes))
	ch <- prometheus.MustNewConstMetric(lruEntriesDesc, prometheus.GaugeValue, float64(s.Entries))
	ch <- prometheus.MustNewConstMetric(lruLookupsDesc, prometheus.CounterValue, float64(s.Hits), "hit")
	ch <- prometheus.MustNewConstMetric(lruLookupsDesc, prometheus.CounterValue, float64(s.Misses), "miss")
	ch <- prometheus.MustNewConstMetric(lruEvictionsDesc, prometheus.CounterValue, float64(s.Evictions))
}
