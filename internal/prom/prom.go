// Package prom keeps the webhook's Prometheus series and writes them in the
// text exposition format (version 0.0.4).
//
// It replaces client_golang, whose registry, collectors and protobuf model
// (29 packages of google.golang.org/protobuf) took 3.1 MB of the binary and
// 2.4 MiB of RSS at start for a dozen series. Series are counters, gauges and
// histograms with at most MaxLabels labels, from closed label sets; values
// known only when scraped come from collect functions.
package prom

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// MaxLabels is the most labels a family has.
const MaxLabels = 4

// labelValues keys a series: its label values, unused ones "".
type labelValues [MaxLabels]string

// Registry holds families in the order they are written. A family without
// samples is not written.
type Registry struct {
	mu       sync.Mutex
	families []family
}

type family interface {
	write(w *bytes.Buffer)
}

// header is what every family has.
type header struct {
	name, help, typ string
	labels          []string
	// order lists the labels' indexes by name: samples are written with
	// their labels sorted, as client_golang writes them.
	order []int
}

func (h *header) writeHeader(w *bytes.Buffer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", h.name, escapeHelp(h.help), h.name, h.typ)
}

func (r *Registry) add(f family) {
	r.mu.Lock()
	r.families = append(r.families, f)
	r.mu.Unlock()
}

func newHeader(name, help, typ string, labels []string) header {
	if len(labels) > MaxLabels {
		panic(fmt.Sprintf("prom: %s has %d labels, more than %d", name, len(labels), MaxLabels))
	}
	order := make([]int, len(labels))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(labels[a], labels[b]) })
	return header{name: name, help: help, typ: typ, labels: labels, order: order}
}

// Vec is a family of counters or gauges, one per label values.
type Vec struct {
	header
	mu     sync.RWMutex
	series map[labelValues]*Value
}

// Value is one series' value.
type Value struct{ bits atomic.Uint64 }

// Add adds d.
func (v *Value) Add(d float64) {
	for {
		old := v.bits.Load()
		if v.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// Inc adds 1.
func (v *Value) Inc() { v.Add(1) }

// Set sets the value to x.
func (v *Value) Set(x float64) { v.bits.Store(math.Float64bits(x)) }

// Get returns the value.
func (v *Value) Get() float64 { return math.Float64frombits(v.bits.Load()) }

// Counter registers a counter family with labels.
func (r *Registry) Counter(name, help string, labels ...string) *Vec {
	v := &Vec{header: newHeader(name, help, "counter", labels), series: map[labelValues]*Value{}}
	r.add(v)
	return v
}

// Gauge registers a gauge family with labels.
func (r *Registry) Gauge(name, help string, labels ...string) *Vec {
	v := &Vec{header: newHeader(name, help, "gauge", labels), series: map[labelValues]*Value{}}
	r.add(v)
	return v
}

// With returns the series of the label values, one per label, in order.
func (v *Vec) With(values ...string) *Value {
	return seriesOf(&v.mu, v.series, keyOf(v.labels, values), func() *Value { return &Value{} })
}

// seriesOf returns the series of key in m, guarded by mu, made by newSeries
// the first time.
func seriesOf[V any](mu *sync.RWMutex, m map[labelValues]*V, key labelValues, newSeries func() *V) *V {
	mu.RLock()
	s, ok := m[key]
	mu.RUnlock()
	if ok {
		return s
	}
	mu.Lock()
	defer mu.Unlock()
	if s, ok = m[key]; !ok {
		s = newSeries()
		m[key] = s
	}
	return s
}

func keyOf(labels, values []string) labelValues {
	if len(values) != len(labels) {
		panic(fmt.Sprintf("prom: %d label values for labels %v", len(values), labels))
	}
	var k labelValues
	copy(k[:], values)
	return k
}

func (v *Vec) write(w *bytes.Buffer) {
	v.mu.RLock()
	keys := sortedKeys(v.series)
	values := make([]float64, len(keys))
	for i, k := range keys {
		values[i] = v.series[k].Get()
	}
	v.mu.RUnlock()
	if len(keys) == 0 {
		return
	}
	v.writeHeader(w)
	for i, k := range keys {
		writeSample(w, v.name, &v.header, k, "", "", values[i])
	}
}

// Histogram is a family of histograms with the same buckets.
type Histogram struct {
	header
	buckets []float64 // upper bounds, ascending; +Inf is implied
	mu      sync.RWMutex
	series  map[labelValues]*HistogramValue
}

// HistogramValue is one histogram's counts.
type HistogramValue struct {
	bounds []float64
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sum    Value
}

// Observe records x.
func (h *HistogramValue) Observe(x float64) {
	i, _ := slices.BinarySearch(h.bounds, x)
	h.counts[i].Add(1)
	h.sum.Add(x)
}

// Histogram registers a histogram family with buckets (ascending upper
// bounds) and labels.
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) *Histogram {
	if !slices.IsSorted(buckets) {
		panic("prom: " + name + ": buckets not ascending")
	}
	h := &Histogram{header: newHeader(name, help, "histogram", labels), buckets: buckets, series: map[labelValues]*HistogramValue{}}
	r.add(h)
	return h
}

// With returns the histogram of the label values.
func (h *Histogram) With(values ...string) *HistogramValue {
	return seriesOf(&h.mu, h.series, keyOf(h.labels, values), func() *HistogramValue {
		return &HistogramValue{bounds: h.buckets, counts: make([]atomic.Uint64, len(h.buckets)+1)}
	})
}

func (h *Histogram) write(w *bytes.Buffer) {
	h.mu.RLock()
	keys := sortedKeys(h.series)
	type snapshot struct {
		counts []uint64
		sum    float64
	}
	snaps := make([]snapshot, len(keys))
	for i, k := range keys {
		s := h.series[k]
		counts := make([]uint64, len(s.counts))
		for j := range s.counts {
			counts[j] = s.counts[j].Load()
		}
		snaps[i] = snapshot{counts: counts, sum: s.sum.Get()}
	}
	h.mu.RUnlock()
	if len(keys) == 0 {
		return
	}
	h.writeHeader(w)
	for i, k := range keys {
		var cumulative uint64
		for j, c := range snaps[i].counts {
			cumulative += c
			le := "+Inf"
			if j < len(h.buckets) {
				le = formatFloat(h.buckets[j])
			}
			writeSample(w, h.name+"_bucket", &h.header, k, "le", le, float64(cumulative))
		}
		writeSample(w, h.name+"_sum", &h.header, k, "", "", snaps[i].sum)
		writeSample(w, h.name+"_count", &h.header, k, "", "", float64(cumulative))
	}
}

// collected is a family whose samples a function gives when scraped.
type collected struct {
	header
	collect func(emit func(value float64, labelValues ...string))
}

// Collect registers a family of type typ ("counter" or "gauge") whose
// samples collect emits at each scrape.
func (r *Registry) Collect(name, help, typ string, collect func(emit func(value float64, labelValues ...string)), labels ...string) {
	r.add(&collected{header: newHeader(name, help, typ, labels), collect: collect})
}

func (c *collected) write(w *bytes.Buffer) {
	type sample struct {
		key   labelValues
		value float64
	}
	var samples []sample
	c.collect(func(value float64, values ...string) {
		samples = append(samples, sample{keyOf(c.labels, values), value})
	})
	if len(samples) == 0 {
		return
	}
	slices.SortStableFunc(samples, func(a, b sample) int { return compareKeys(a.key, b.key) })
	c.writeHeader(w)
	for _, s := range samples {
		writeSample(w, c.name, &c.header, s.key, "", "", s.value)
	}
}

// WriteTo writes every family in the text format, in one write.
func (r *Registry) WriteTo(out io.Writer) (int64, error) {
	r.mu.Lock()
	families := slices.Clone(r.families)
	r.mu.Unlock()
	var b bytes.Buffer
	for _, f := range families {
		f.write(&b)
	}
	return b.WriteTo(out)
}

// ServeHTTP serves the families to a scrape.
func (r *Registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = r.WriteTo(w)
}

func sortedKeys[V any](m map[labelValues]V) []labelValues {
	keys := make([]labelValues, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	return keys
}

func compareKeys(a, b labelValues) int {
	for i := range a {
		if c := strings.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

// writeSample writes one line: name{labels of h[,extra="value"]} value.
func writeSample(w *bytes.Buffer, name string, h *header, values labelValues, extra, extraValue string, v float64) {
	w.WriteString(name)
	if len(h.labels) > 0 || extra != "" {
		w.WriteByte('{')
		for n, i := range h.order {
			if n > 0 {
				w.WriteByte(',')
			}
			writeLabel(w, h.labels[i], values[i])
		}
		if extra != "" {
			if len(h.labels) > 0 {
				w.WriteByte(',')
			}
			writeLabel(w, extra, extraValue)
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(formatFloat(v))
	w.WriteByte('\n')
}

func writeLabel(w *bytes.Buffer, name, value string) {
	w.WriteString(name)
	w.WriteString(`="`)
	w.WriteString(labelEscaper.Replace(value))
	w.WriteByte('"')
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeHelp(s string) string { return helpEscaper.Replace(s) }

// formatFloat writes v as Prometheus does: shortest form, +Inf, -Inf, NaN.
func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
