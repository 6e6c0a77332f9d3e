package hostile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// l1LiveHeapBudget is the benchmark's L1 budget for the live heap.
const l1LiveHeapBudget = 12 << 20

// hostileCase is one malformed or hostile request, sent straight to the
// webhook's port, and what its answer must be.
type hostileCase struct {
	name string
	send func(ctx context.Context) []answer
	// check returns why an answer is wrong, or nil.
	check func(a answer) error
	// within bounds each answer's time; 0 means two seconds.
	within time.Duration
}

// status wants HTTP code with text in the body.
func status(code int, text string) func(answer) error {
	return func(a answer) error {
		if a.status != code || !strings.Contains(string(a.body), text) {
			return fmt.Errorf("%s, want HTTP %d containing %q", a, code, text)
		}
		return nil
	}
}

// decision wants an AdmissionReview answer, denied with text when text is
// not empty, of at most maxAnswer bytes.
func decision(text string) func(answer) error {
	const maxAnswer = 8 << 10
	return func(a answer) error {
		if a.status != http.StatusOK {
			return fmt.Errorf("%s, want an AdmissionReview", a)
		}
		resp, err := a.response()
		if err != nil {
			return err
		}
		if len(a.body) > maxAnswer {
			return fmt.Errorf("answer of %d bytes, want at most %d", len(a.body), maxAnswer)
		}
		if text != "" && (resp.Allowed || !strings.Contains(resp.Result.Message, text)) {
			return fmt.Errorf("%s, want denied with %q", a, text)
		}
		return nil
	}
}

// okOrBusy wants a decision or, over the byte bound, 503 saying so.
func okOrBusy(a answer) error {
	if a.status == http.StatusServiceUnavailable && strings.Contains(string(a.body), "too many large admission reviews") {
		return nil
	}
	return decision("")(a)
}

func once(c *http.Client, path, contentType string, body []byte) func(context.Context) []answer {
	return func(ctx context.Context) []answer {
		return []answer{post(ctx, c, path, contentType, bytesReader(body))}
	}
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// unsizedReader hides its length, so the request has no Content-Length.
type unsizedReader struct{ r io.Reader }

func (u unsizedReader) Read(p []byte) (int, error) { return u.r.Read(p) }

// nested is JSON nested depth arrays deep.
func nested(depth int) string { return strings.Repeat("[", depth) + strings.Repeat("]", depth) }

func catalogue() []hostileCase {
	h2, h1 := directClient(false), directClient(true)
	const json = "application/json"
	config3MiB := string(bytesOf('z', 3<<20))
	nadWith := func(object string) []byte { return nadReview("CREATE", "n", object, "") }
	withField := func(field string) []byte {
		return nadWith(`{"apiVersion":"k8s.cni.cncf.io/v1","kind":"NetworkAttachmentDefinition","metadata":{"name":"n","namespace":"default"},` + field + `}`)
	}
	labels := make([]string, 100_000)
	for i := range labels {
		labels[i] = fmt.Sprintf(`"l%d":"v"`, i)
	}
	hugeLabels := withField(`"spec":{"config":"{}"},"metadata":{"name":"n","namespace":"default","labels":{` + strings.Join(labels, ",") + `}}`)
	kindReview := func(kind string) []byte {
		return review("CREATE", kind, "example.com", "v1", "things", "default", "x", `{"apiVersion":"example.com/v1","kind":"Thing"}`, "")
	}
	return []hostileCase{
		{name: "not JSON", send: once(h2, validation, json, []byte("{")), check: status(400, "decode admission review")},
		{name: "plain text", send: once(h2, validation, json, []byte("hello")), check: status(400, "invalid character")},
		{name: "wrong content type", send: once(h2, validation, "text/plain", realReview), check: status(415, "is not application/json")},
		{name: "unparsable content type", send: once(h2, validation, ";;;", realReview), check: status(415, "is not application/json")},
		{name: "empty body", send: once(h2, validation, json, nil), check: status(400, "unexpected end of JSON input")},
		{name: "JSON null", send: once(h2, validation, json, []byte("null")), check: status(400, "unsupported admission review apiVersion")},
		{name: "JSON array", send: once(h2, validation, json, []byte("[]")), check: status(400, "cannot unmarshal array")},
		{name: "byte order mark", send: once(h2, validation, json, append([]byte("\xef\xbb\xbf"), realReview...)), check: status(400, "invalid character")},
		{name: "over the limit by Content-Length", send: once(h2, validation, json, bytesOf(' ', 6<<20+256<<10+1)),
			check: status(413, "the most an API server sends")},
		{name: "over the limit without Content-Length", within: 5 * time.Second,
			send: func(ctx context.Context) []answer {
				return []answer{post(ctx, h2, validation, json, unsizedReader{strings.NewReader(string(bytesOf(' ', 7<<20)))})}
			}, check: status(413, "the most an API server sends")},
		{name: "missing request", send: once(h2, validation, json, []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`)),
			check: status(400, "has no request")},
		{name: "request null", send: once(h2, mutation, json, []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}`)),
			check: status(400, "has no request")},
		{name: "unknown review version", send: once(h2, validation, json, []byte(`{"apiVersion":"admission.k8s.io/v2","request":{}}`)),
			check: status(400, "unsupported admission review apiVersion")},
		{name: "request.object of the wrong kind", send: once(h2, validation, json,
			nadWith(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n","namespace":"default"},"data":{"a":"b"}}`)),
			check: decision("")},
		{name: "request.object not an object", send: once(h2, validation, json, nadWith(`[1,2,3]`)), check: decision("cannot unmarshal array")},
		{name: "mistyped spec.config", send: once(h2, validation, json, withField(`"spec":{"config":42}`)),
			check: decision("cannot unmarshal number into Go struct field")},
		{name: "mistyped metadata.labels", send: once(h2, validation, json, withField(`"metadata":{"name":"n","labels":"x"}`)),
			check: decision("cannot unmarshal string")},
		{name: "mistyped request.operation", send: once(h2, validation, json,
			[]byte(`{"apiVersion":"admission.k8s.io/v1","request":{"uid":"u","operation":7}}`)), check: status(400, "cannot unmarshal number")},
		{name: "unknown operation", send: once(h2, validation, json,
			review("PATCH", "NetworkAttachmentDefinition", "k8s.cni.cncf.io", "v1", "network-attachment-definitions", "default", "n", nadJSON("n", "{}"), "")),
			check: decision("unsupported operation PATCH")},
		{name: "UPDATE without oldObject", send: once(h2, validation, json, nadReview("UPDATE", "n", nadJSON("n", "{}"), "")),
			check: decision("request.oldObject is missing from the admission request")},
		{name: "DELETE without oldObject", send: once(h2, validation, json, nadReview("DELETE", "n", "", "")),
			check: decision("request.oldObject is missing from the admission request")},
		{name: "100,000 labels", within: 5 * time.Second, send: once(h2, validation, json, hugeLabels), check: decision("")},
		{name: "JSON nested past the decoder's depth", send: once(h2, validation, json, withField(`"spec":{"config":"{}"},"x":`+nested(20_000))),
			check: status(400, "exceeded max depth")},
		{name: "deeply nested JSON within the depth", send: once(h2, validation, json, withField(`"spec":{"config":"{}"},"x":`+nested(9_000))),
			check: decision("")},
		{name: "deeply nested spec.config", send: once(h2, validation, json, withField(`"spec":{"config":"`+nested(20_000)+`"}`)),
			check: decision("bytes in all)")},
		{name: "3 MiB config that is not JSON", within: 5 * time.Second, send: once(h2, validation, json, nadWith(nadJSON("n", config3MiB))),
			check: decision("(cut: 3145728 bytes in all)")},
		{name: "number literal of a megabyte", send: once(h2, validation, json,
			nadWith(nadJSON("n", `{"type":"bridge","bridge":"hcn-br","vlan":1`+string(bytesOf('0', 1<<20))+`}`))),
			check: decision("bytes in all)")},
		{name: "kind of a megabyte", send: once(h2, validation, json, kindReview(string(bytesOf('K', 1<<20)))), check: decision("no route match found for CREATE")},
		{name: "name of a megabyte", send: once(h2, validation, json,
			nadWith(nadJSON(string(bytesOf('n', 1<<20)), `{"type":"bridge","bridge":"hcn-br","vlan":5000}`))),
			check: decision("bytes in all)")},
		{name: "invalid UTF-8", send: once(h2, validation, json,
			nadWith(`{"apiVersion":"k8s.cni.cncf.io/v1","kind":"NetworkAttachmentDefinition","metadata":{"name":"n`+"\xff\xfe"+`","namespace":"default"},"spec":{"config":"{}"}}`)),
			check: decision("")},
		{name: "duplicate keys", send: once(h2, validation, json,
			[]byte(`{"apiVersion":"admission.k8s.io/v1","apiVersion":"admission.k8s.io/v1","request":{"uid":"a","uid":"b","operation":"CREATE"}}`)),
			check: decision("no route match found")},
		{name: "10,000 distinct kind strings", within: 30 * time.Second, send: func(ctx context.Context) []answer {
			out := make([]answer, 10_000)
			var wg sync.WaitGroup
			sem := make(chan struct{}, 16)
			for i := range out {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					out[i] = post(ctx, h2, validation, json, bytesReader(kindReview("Kind"+strconv.Itoa(i))))
				})
			}
			wg.Wait()
			return out
		}, check: decision("no route match found for CREATE example.com/v1, Kind=Kind")},
		{name: "GET on a webhook path", send: func(ctx context.Context) []answer {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, env.webhook.URL+validation, nil)
			resp, err := h2.Do(req)
			if err != nil {
				return []answer{{err: err}}
			}
			defer func() { _ = resp.Body.Close() }()
			return []answer{{status: resp.StatusCode}}
		}, check: func(a answer) error {
			if a.status != http.StatusMethodNotAllowed {
				return fmt.Errorf("%s, want 405", a)
			}
			return nil
		}},
		{name: "unknown path", send: once(h2, "/v1/webhook/other", json, realReview), check: status(404, "not found")},
		{name: "body cut short of its Content-Length", send: func(context.Context) []answer {
			return []answer{rawExchange("POST "+validation+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"api", true, 15*time.Second)}
		}, check: status(400, "unexpected EOF")},
		{name: "50 clients sending 3 MiB reviews at once", within: 20 * time.Second, send: func(ctx context.Context) []answer {
			body := nadWith(nadJSON("n", config3MiB))
			out := make([]answer, 50)
			var wg sync.WaitGroup
			for i := range out {
				c := directClient(i%2 == 0)
				wg.Go(func() { out[i] = post(ctx, c, validation, json, bytesReader(body)) })
			}
			wg.Wait()
			return out
		}, check: okOrBusy},
		{name: "16 reviews of 6 MiB on one HTTP/2 connection", within: 20 * time.Second, send: func(ctx context.Context) []answer {
			c := directClient(false)
			half := string(bytesOf('y', 3<<20-1024))
			body := nadReview("UPDATE", "n", nadJSON("n", half), nadJSON("n", half))
			out := make([]answer, 16)
			var wg sync.WaitGroup
			for i := range out {
				wg.Go(func() { out[i] = post(ctx, c, validation, json, bytesReader(body)) })
			}
			wg.Wait()
			return out
		}, check: okOrBusy},
		{name: "HTTP/1.1 client", send: once(h1, validation, json, realReview), check: decision("")},
	}
}

// slowClients open n connections that send their headers and one byte of
// a 5,000-byte body, then nothing: each must get 408 at its deadline (8 s:
// they send no ?timeout=), without keeping any review from an answer.
func slowClients(n int) (wait func() []answer) {
	out := make([]answer, n)
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() {
			out[i] = rawExchange("POST "+validation+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{", false, 15*time.Second)
		})
	}
	return func() []answer { wg.Wait(); return out }
}

// slowHeaders open n connections that never finish their headers: the
// server answers 400 at its ReadHeaderTimeout (10 s) and closes them.
func slowHeaders(n int) (wait func() []answer) {
	out := make([]answer, n)
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() {
			out[i] = rawExchange("POST "+validation+" HTTP/1.1\r\nHost: x\r\nContent-Ty", false, 15*time.Second)
		})
	}
	return func() []answer { wg.Wait(); return out }
}

// canary sends the real review every interval until stopped, and returns
// the slowest answer and the failures.
func canary(ctx context.Context, interval time.Duration) (stop func() (worst time.Duration, sent int, failures []error)) {
	ctx, cancel := context.WithCancel(ctx)
	c := directClient(false)
	var worst atomic.Int64
	var mu sync.Mutex
	var fails []error
	sent := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			a := post(context.WithoutCancel(ctx), c, validation, "application/json", bytesReader(realReview))
			sent++
			if int64(a.took) > worst.Load() {
				worst.Store(int64(a.took))
			}
			err := wantAllowed(a)
			if err == nil && a.took > time.Second {
				err = errors.New("answered late")
			}
			if err != nil {
				mu.Lock()
				fails = append(fails, fmt.Errorf("real review after %s: %w", a.took, err))
				mu.Unlock()
			}
		}
	}()
	return func() (time.Duration, int, []error) {
		cancel()
		<-done
		return time.Duration(worst.Load()), sent, fails
	}
}

// sampleMax samples the webhook's unlabelled metric every interval until
// stopped, and returns the largest value.
func sampleMax(metric string, interval time.Duration) (stop func() int64) {
	var peak atomic.Int64
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			if v, err := env.webhook.Metric(metric); err == nil && int64(v) > peak.Load() {
				peak.Store(int64(v))
			}
			select {
			case <-done:
				return
			case <-time.After(interval):
			}
		}
	}()
	return func() int64 { close(done); <-stopped; return peak.Load() }
}

// TestBadInputCatalogue sends every hostile request of the catalogue
// straight to the webhook, with slow clients holding connections all along,
// while a real review is sent every 100 ms: every hostile request gets a
// clear error or a decision in bounded time, the real review is answered
// within a second throughout, and afterwards the live heap is back under
// the L1 budget and the webhook healthy.
func TestBadInputCatalogue(t *testing.T) {
	applyBase(t)
	ctx := t.Context()
	if err := wantAllowed(post(ctx, directClient(false), validation, "application/json", bytesReader(realReview))); err != nil {
		t.Fatalf("before the catalogue: %v", err)
	}
	before := liveHeapAfterGC(t)
	heap := sampleMax("go_memstats_heap_inuse_bytes", 100*time.Millisecond)
	stopCanary := canary(ctx, 100*time.Millisecond)
	waitSlow, waitHeaders := slowClients(16), slowHeaders(4)

	worstCase, worstTook := "", time.Duration(0)
	for _, c := range catalogue() {
		within := c.within
		if within == 0 {
			within = 2 * time.Second
		}
		for i, a := range c.send(ctx) {
			if err := c.check(a); err != nil {
				t.Errorf("%s [%d]: %v", c.name, i, err)
			}
			if a.took > within {
				t.Errorf("%s [%d]: answered after %s, want within %s", c.name, i, a.took, within)
			}
			if a.took > worstTook {
				worstCase, worstTook = c.name, a.took
			}
		}
	}
	for i, a := range waitSlow() {
		if err := status(http.StatusRequestTimeout, "did not arrive before the review's deadline")(a); err != nil || a.took > 9*time.Second {
			t.Errorf("slow client %d: %v (after %s), want 408 at its 8 s deadline", i, err, a.took)
		}
	}
	for i, a := range waitHeaders() {
		if a.status != http.StatusBadRequest || a.took > 11*time.Second || a.took < 9*time.Second {
			t.Errorf("slow headers %d: %s, want 400 at the 10 s header timeout", i, a)
		}
	}
	worst, sent, fails := stopCanary()
	for _, err := range fails {
		t.Error(err)
	}
	peak := heap()
	after := liveHeapAfterGC(t)
	mem, err := env.webhook.Memory()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("catalogue: slowest hostile answer %s (%s); real review: %d sent, slowest %s; heap in use at most %.1f MiB, peak RSS %.1f MiB; live heap %.1f MiB before, %.1f MiB after",
		worstTook.Round(time.Millisecond), worstCase, sent, worst.Round(time.Millisecond), mib(peak), mib(mem.PeakRSSBytes), mib(before), mib(after))
	if after > l1LiveHeapBudget {
		t.Errorf("live heap %.1f MiB after the catalogue, want under the L1 budget of %.0f MiB", mib(after), mib(l1LiveHeapBudget))
	}
	series, err := countSeries("harvester_network_webhook_requests_total{")
	if err != nil || series > 40 {
		t.Errorf("%d request series after 10,000 kinds (%v), want a few dozen at most", series, err)
	}
	healthy(t)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// countSeries counts the /metrics lines starting with prefix.
func countSeries(prefix string) (int, error) {
	resp, err := http.Get(env.webhook.HealthURL() + "/metrics")
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			n++
		}
	}
	return n, err
}
