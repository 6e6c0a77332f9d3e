package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics holds the Prometheus series: admission requests and latency, the
// on-demand GETs, the caches, the rule set, the certificates, and the Go
// runtime's own (live heap included). Every label comes from a closed set.
type metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	profile      *prometheus.GaugeVec
	fetches      *prometheus.CounterVec
	fetchLatency *prometheus.HistogramVec
}

// latencyBuckets reach the API server's 10 s webhook timeout.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(state *runState) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harvester_network_webhook_requests_total",
			Help: "Admission reviews answered, by webhook, kind (other: not a routed kind), operation and result (allowed, patched, denied, error, warned in audit mode).",
		}, []string{"webhook", "kind", "operation", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "harvester_network_webhook_request_duration_seconds",
			Help:    "Time to answer an admission review, from the request read to the response written.",
			Buckets: latencyBuckets,
		}, []string{"webhook"}),
		profile: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "harvester_network_webhook_profile_info",
			Help: "The Harvester rule set in use (1), by version and by source: configured, detected, or fallback when the cluster could not be asked.",
		}, []string{"version", "source"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harvester_network_webhook_fetches_total",
			Help: "Full objects fetched from the API server on demand (cache misses), by kind and result (ok, error).",
		}, []string{"kind", "result"}),
		fetchLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "harvester_network_webhook_fetch_duration_seconds",
			Help:    "Time of an on-demand GET of a full object.",
			Buckets: latencyBuckets,
		}, []string{"kind"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.profile, m.fetches, m.fetchLatency,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "harvester_network_webhook_requests_in_flight",
			Help: "Admission reviews being decided now.",
		}, func() float64 {
			if srv := state.server.Load(); srv != nil {
				return float64(srv.InFlight())
			}
			return 0
		}),
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsAll)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		stateCollector{state: state})
	return m
}

// Observe implements admission.Recorder.
func (m *metrics) Observe(webhook, kind, operation, result string, d time.Duration) {
	m.requests.WithLabelValues(webhook, kind, operation, result).Inc()
	m.latency.WithLabelValues(webhook).Observe(d.Seconds())
}

// ObserveFetch implements informers.FetchObserver.
func (m *metrics) ObserveFetch(kind string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.fetches.WithLabelValues(kind, result).Inc()
	m.fetchLatency.WithLabelValues(kind).Observe(d.Seconds())
}

// setRules publishes the rule set chosen.
func (m *metrics) setRules(r ruleSet) {
	m.profile.WithLabelValues(r.version.String(), r.source).Set(1)
}

// stateCollector reports, when scraped, the figures the running parts keep
// themselves: the certificates' expiry, informer object counts and watch
// restarts, and the LRU.
type stateCollector struct{ state *runState }

var (
	objectsDesc = prometheus.NewDesc("harvester_network_webhook_cached_objects",
		"Objects held by each informer (metadata or projection).", []string{"kind"}, nil)
	watchRestartsDesc = prometheus.NewDesc("harvester_network_webhook_watch_restarts_total",
		"Watches started again after the first, by kind: each one a watch the API server ended, or that failed.", []string{"kind"}, nil)
	lruBytesDesc = prometheus.NewDesc("harvester_network_webhook_lru_bytes",
		"Estimated bytes held by the cache of full objects.", nil, nil)
	lruEntriesDesc = prometheus.NewDesc("harvester_network_webhook_lru_entries",
		"Entries in the cache of full objects.", nil, nil)
	lruLookupsDesc = prometheus.NewDesc("harvester_network_webhook_lru_lookups_total",
		"Lookups in the cache of full objects, by result (hit, miss).", []string{"result"}, nil)
	lruEvictionsDesc = prometheus.NewDesc("harvester_network_webhook_lru_evictions_total",
		"Entries evicted from the cache of full objects to stay within its budget.", nil, nil)
	certExpiryDesc = prometheus.NewDesc("harvester_network_webhook_certificate_expiry_timestamp_seconds",
		"When the certificate expires, in seconds since the epoch: the serving leaf, and the CA of the caBundle.", []string{"certificate"}, nil)
)

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{objectsDesc, watchRestartsDesc, lruBytesDesc, lruEntriesDesc, lruLookupsDesc, lruEvictionsDesc, certExpiryDesc} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	if k := c.state.certs.Load(); k != nil {
		st := k.Status()
		ch <- prometheus.MustNewConstMetric(certExpiryDesc, prometheus.GaugeValue, float64(st.LeafNotAfter.Unix()), "serving")
		ch <- prometheus.MustNewConstMetric(certExpiryDesc, prometheus.GaugeValue, float64(st.CANotAfter.Unix()), "ca")
	}
	inf := c.state.informers.Load()
	if inf == nil {
		return
	}
	for kind, n := range inf.Counts() {
		ch <- prometheus.MustNewConstMetric(objectsDesc, prometheus.GaugeValue, float64(n), kind)
	}
	for kind, n := range inf.WatchRestarts() {
		ch <- prometheus.MustNewConstMetric(watchRestartsDesc, prometheus.CounterValue, float64(n), kind)
	}
	s := inf.CacheStats()
	ch <- prometheus.MustNewConstMetric(lruBytesDesc, prometheus.GaugeValue, float64(s.Bytes))
	ch <- prometheus.MustNewConstMetric(lruEntriesDesc, prometheus.GaugeValue, float64(s.Entries))
	ch <- prometheus.MustNewConstMetric(lruLookupsDesc, prometheus.CounterValue, float64(s.Hits), "hit")
	ch <- prometheus.MustNewConstMetric(lruLookupsDesc, prometheus.CounterValue, float64(s.Misses), "miss")
	ch <- prometheus.MustNewConstMetric(lruEvictionsDesc, prometheus.CounterValue, float64(s.Evictions))
}
