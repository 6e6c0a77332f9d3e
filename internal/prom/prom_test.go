package prom

import (
	"math"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestTheTextFormat(t *testing.T) {
	r := &Registry{}
	c := r.Counter("requests_total", "Requests, by path\\and \"code\".\nSecond line.", "path", "code")
	c.With("/b", "200").Inc()
	c.With("/a", "500").Add(2)
	c.With("/a", "200").Inc()
	r.Gauge("empty", "Never set: not written.")
	g := r.Gauge("temperature", "A gauge.")
	g.With().Set(-1.5)
	h := r.Histogram("latency_seconds", "A histogram.", []float64{0.1, 1}, "z_path")
	h.With("x\n\"y\"").Observe(0.1) // on a bound: that bucket
	h.With("x\n\"y\"").Observe(0.5)
	h.With("x\n\"y\"").Observe(7)
	r.Collect("objects", "Collected.", "gauge", func(emit func(float64, ...string)) {
		emit(3, "b")
		emit(math.Inf(1), "a")
	}, "kind")

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	want := `# HELP requests_total Requests, by path\\and "code".\nSecond line.
# TYPE requests_total counter
requests_total{code="200",path="/a"} 1
requests_total{code="500",path="/a"} 2
requests_total{code="200",path="/b"} 1
# HELP temperature A gauge.
# TYPE temperature gauge
temperature -1.5
# HELP latency_seconds A histogram.
# TYPE latency_seconds histogram
latency_seconds_bucket{z_path="x\n\"y\"",le="0.1"} 1
latency_seconds_bucket{z_path="x\n\"y\"",le="1"} 2
latency_seconds_bucket{z_path="x\n\"y\"",le="+Inf"} 3
latency_seconds_sum{z_path="x\n\"y\""} 7.6
latency_seconds_count{z_path="x\n\"y\""} 3
# HELP objects Collected.
# TYPE objects gauge
objects{kind="a"} +Inf
objects{kind="b"} 3
`
	if got := rec.Body.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	// Prometheus's own parser reads it.
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	if hist := families["latency_seconds"].GetMetric()[0].GetHistogram(); hist.GetSampleCount() != 3 || hist.GetSampleSum() != 7.6 {
		t.Errorf("parsed histogram %v", hist)
	}
}

// Series are created and updated from many goroutines at once, while
// scraped.
func TestConcurrentUpdates(t *testing.T) {
	r := &Registry{}
	c := r.Counter("n_total", "N.", "k")
	h := r.Histogram("h", "H.", []float64{1}, "k")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 1000 {
				c.With([]string{"a", "b"}[i%2]).Inc()
				h.With("a").Observe(0.5)
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			_, _ = r.WriteTo(new(strings.Builder))
		}
	})
	wg.Wait()
	if a, b := c.With("a").Get(), c.With("b").Get(); a != 4000 || b != 4000 {
		t.Errorf("counts %v %v, want 4000 each", a, b)
	}
	var out strings.Builder
	_, _ = r.WriteTo(&out)
	if !strings.Contains(out.String(), `h_count{k="a"} 8000`) {
		t.Errorf("histogram count missing:\n%s", out.String())
	}
}

func TestAWrongNumberOfLabelValuesPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	(&Registry{}).Counter("c", "C.", "a").With("x", "y")
}
