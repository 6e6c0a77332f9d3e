package main

import (
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lowmem/harvester-network-webhook/informers"
	"github.com/lowmem/harvester-network-webhook/internal/prom"
)

// webhookMetrics holds the Prometheus series: admission requests and
// latency, the on-demand GETs, the caches, the rule set, the certificates,
// and the Go runtime's and the process's own (live heap included). Every
// label comes from a closed set.
type webhookMetrics struct {
	registry     *prom.Registry
	requests     *prom.Vec
	latency      *prom.Histogram
	profile      *prom.Vec
	fetches      *prom.Vec
	fetchLatency *prom.Histogram
}

// latencyBuckets reach the API server's 10 s webhook timeout.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(state *runState) *webhookMetrics {
	r := &prom.Registry{}
	m := &webhookMetrics{
		registry: r,
		requests: r.Counter("harvester_network_webhook_requests_total",
			"Admission reviews answered, by webhook, kind (other: not a routed kind), operation and result (allowed, patched, denied, error, warned in audit mode).",
			"webhook", "kind", "operation", "result"),
		latency: r.Histogram("harvester_network_webhook_request_duration_seconds",
			"Time to answer an admission review, from the request read to the response written.", latencyBuckets, "webhook"),
		profile: r.Gauge("harvester_network_webhook_profile_info",
			"The Harvester rule set in use (1), by version and by source: configured, detected, or fallback when the cluster could not be asked.",
			"version", "source"),
		fetches: r.Counter("harvester_network_webhook_fetches_total",
			"Full objects fetched from the API server on demand (cache misses), by kind and result (ok, error).", "kind", "result"),
		fetchLatency: r.Histogram("harvester_network_webhook_fetch_duration_seconds",
			"Time of an on-demand GET of a full object.", latencyBuckets, "kind"),
	}
	r.Collect("harvester_network_webhook_requests_in_flight", "Admission reviews being decided now.", "gauge",
		func(emit func(float64, ...string)) {
			n := 0
			if srv := state.server.Load(); srv != nil {
				n = srv.InFlight()
			}
			emit(float64(n))
		})
	addStateMetrics(r, state)
	addRuntimeMetrics(r)
	addProcessMetrics(r)
	return m
}

// Observe implements admission.Recorder.
func (m *webhookMetrics) Observe(webhook, kind, operation, result string, d time.Duration) {
	m.requests.With(webhook, kind, operation, result).Inc()
	m.latency.With(webhook).Observe(d.Seconds())
}

// ObserveFetch implements informers.FetchObserver.
func (m *webhookMetrics) ObserveFetch(kind string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.fetches.With(kind, result).Inc()
	m.fetchLatency.With(kind).Observe(d.Seconds())
}

// setRules publishes the rule set chosen.
func (m *webhookMetrics) setRules(r ruleSet) {
	m.profile.With(r.version.String(), r.source).Set(1)
}

// addStateMetrics reports, when scraped, the figures the running parts keep
// themselves: the certificates' expiry, informer object counts and watch
// restarts, and the LRU.
func addStateMetrics(r *prom.Registry, state *runState) {
	r.Collect("harvester_network_webhook_cached_objects", "Objects held by each informer (metadata or projection).", "gauge",
		func(emit func(float64, ...string)) {
			if inf := state.informers.Load(); inf != nil {
				for kind, n := range inf.Counts() {
					emit(float64(n), kind)
				}
			}
		}, "kind")
	r.Collect("harvester_network_webhook_watch_restarts_total",
		"Watches started again after the first, by kind: each one a watch the API server ended, or that failed.", "counter",
		func(emit func(float64, ...string)) {
			if inf := state.informers.Load(); inf != nil {
				for kind, n := range inf.WatchRestarts() {
					emit(float64(n), kind)
				}
			}
		}, "kind")
	lru := func(name, help, typ string, value func(emit func(float64, ...string), s informers.LRUStats), labels ...string) {
		r.Collect(name, help, typ, func(emit func(float64, ...string)) {
			if inf := state.informers.Load(); inf != nil {
				value(emit, inf.CacheStats())
			}
		}, labels...)
	}
	lru("harvester_network_webhook_lru_bytes", "Estimated bytes held by the cache of full objects.", "gauge",
		func(emit func(float64, ...string), s informers.LRUStats) { emit(float64(s.Bytes)) })
	lru("harvester_network_webhook_lru_entries", "Entries in the cache of full objects.", "gauge",
		func(emit func(float64, ...string), s informers.LRUStats) { emit(float64(s.Entries)) })
	lru("harvester_network_webhook_lru_lookups_total", "Lookups in the cache of full objects, by result (hit, miss).", "counter",
		func(emit func(float64, ...string), s informers.LRUStats) {
			emit(float64(s.Hits), "hit")
			emit(float64(s.Misses), "miss")
		}, "result")
	lru("harvester_network_webhook_lru_evictions_total", "Entries evicted from the cache of full objects to stay within its budget.", "counter",
		func(emit func(float64, ...string), s informers.LRUStats) { emit(float64(s.Evictions)) })
	r.Collect("harvester_network_webhook_certificate_expiry_timestamp_seconds",
		"When the certificate expires, in seconds since the epoch: the serving leaf, and the CA of the caBundle.", "gauge",
		func(emit func(float64, ...string)) {
			if k := state.certs.Load(); k != nil {
				st := k.Status()
				emit(float64(st.LeafNotAfter.Unix()), "serving")
				emit(float64(st.CANotAfter.Unix()), "ca")
			}
		}, "certificate")
}

// runtimeSeries are the Go runtime's figures, by the names client_golang's
// Go collector gives them, read from runtime/metrics (no stop-the-world).
var runtimeSeries = []struct {
	name, help, typ string
	samples         []string // summed
}{
	{"go_gc_heap_live_bytes", "Heap memory occupied by live objects that were marked by the previous GC.", "gauge",
		[]string{"/gc/heap/live:bytes"}},
	{"go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.", "gauge",
		[]string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes"}},
	{"go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and currently in use.", "gauge",
		[]string{"/memory/classes/heap/objects:bytes"}},
	{"go_memstats_alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already.", "counter",
		[]string{"/gc/heap/allocs:bytes"}},
	{"go_memstats_sys_bytes", "Number of bytes obtained from system.", "gauge",
		[]string{"/memory/classes/total:bytes"}},
	{"go_memstats_next_gc_bytes", "Number of heap bytes when next garbage collection will take place.", "gauge",
		[]string{"/gc/heap/goal:bytes"}},
	{"go_gc_cycles_total", "Count of completed GC cycles.", "counter",
		[]string{"/gc/cycles/total:gc-cycles"}},
	{"go_gc_gogc_percent", "Heap size target percentage configured by GOGC.", "gauge",
		[]string{"/gc/gogc:percent"}},
	{"go_gc_gomemlimit_bytes", "Go runtime memory limit configured by GOMEMLIMIT.", "gauge",
		[]string{"/gc/gomemlimit:bytes"}},
	{"go_goroutines", "Number of goroutines that currently exist.", "gauge",
		[]string{"/sched/goroutines:goroutines"}},
}

func addRuntimeMetrics(r *prom.Registry) {
	r.Collect("go_info", "Information about the Go environment.", "gauge",
		func(emit func(float64, ...string)) { emit(1, runtime.Version()) }, "version")
	for _, s := range runtimeSeries {
		samples := make([]metrics.Sample, len(s.samples))
		for i, name := range s.samples {
			samples[i].Name = name
		}
		r.Collect(s.name, s.help, s.typ, func(emit func(float64, ...string)) {
			// Each scrape reads into its own copy: scrapes may overlap.
			read := slices.Clone(samples)
			metrics.Read(read)
			var sum float64
			for _, v := range read {
				if v.Value.Kind() == metrics.KindUint64 {
					sum += float64(v.Value.Uint64())
				}
			}
			emit(sum)
		})
	}
}

// addProcessMetrics adds client_golang's process series, from /proc/self.
func addProcessMetrics(r *prom.Registry) {
	pageSize := float64(os.Getpagesize())
	statm := func(field int) func(emit func(float64, ...string)) {
		return func(emit func(float64, ...string)) {
			if f := procFields("/proc/self/statm"); len(f) > field {
				if n, err := strconv.ParseFloat(f[field], 64); err == nil {
					emit(n * pageSize)
				}
			}
		}
	}
	r.Collect("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", statm(1))
	r.Collect("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", statm(0))
	r.Collect("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter",
		func(emit func(float64, ...string)) {
			var ru syscall.Rusage
			if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
				emit(time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds())
			}
		})
	started := float64(time.Now().UnixNano()) / 1e9
	r.Collect("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge",
		func(emit func(float64, ...string)) { emit(started) })
	r.Collect("process_open_fds", "Number of open file descriptors.", "gauge",
		func(emit func(float64, ...string)) {
			if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
				emit(float64(len(fds)))
			}
		})
	r.Collect("process_max_fds", "Maximum number of open file descriptors.", "gauge",
		func(emit func(float64, ...string)) {
			var l syscall.Rlimit
			if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil {
				emit(float64(l.Cur))
			}
		})
}

func procFields(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}
