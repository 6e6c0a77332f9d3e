package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// Latency is one operation's figures over a load phase.
type Latency struct {
	Op         string  `json:"op"`
	Path       string  `json:"path"`        // direct or apiserver
	Decision   string  `json:"decision"`    // the answer every request got
	Requests   int     `json:"requests"`    // answered requests, the latency samples
	Errors     int     `json:"errors"`      // unexpected answers and other transport errors
	ConnErrors int     `json:"conn_errors"` // requests that found no webhook to answer (down, restarting)
	P50Ms      float64 `json:"p50_ms"`      //
	P99Ms      float64 `json:"p99_ms"`      //
	P999Ms     float64 `json:"p999_ms"`     //
	Throughput float64 `json:"throughput"`  // requests per second
	// PeakRSSBytes is the webhook's largest VmRSS sampled every 250 ms
	// during the phase; -1 for the floor.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`

	// CPU over the phase's Seconds, -1 where unknown. CPUSeconds is the
	// server's: its cgroup's usage when it runs in one (restarts
	// included), else /proc/<pid>/stat's, unknown when the process changed.
	// CPUMicrosPerReview is that over Requests; through the API server a
	// request may call the webhook more than once (mutation, validation).
	// ClientCPUSeconds is the bench's own (getrusage), ClientCPUShare that
	// as a share of the machine's cores: near 1, the client is the limit.
	Seconds            float64 `json:"seconds"`
	CPUSeconds         float64 `json:"cpu_seconds"`
	CPUMicrosPerReview float64 `json:"cpu_us_per_review"`
	ClientCPUSeconds   float64 `json:"client_cpu_seconds"`
	ClientCPUShare     float64 `json:"client_cpu_share"`
	// Floor is the same load against the floor, a bare server that only
	// decodes the review (direct phases, without -skip-floor); FloorRatio
	// is CPUMicrosPerReview over the floor's, -1 where unknown.
	Floor      *Latency `json:"floor,omitempty"`
	FloorRatio float64  `json:"cpu_ratio_to_floor,omitempty"`
}

// samplePeakRSS samples wh's RSS every 250 ms until the returned func is
// called, which returns the largest value seen.
func samplePeakRSS(wh process) (stop func() int64) {
	done := make(chan struct{})
	result := make(chan int64)
	go func() {
		var peak int64
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			if m, _ := wh.Memory(); m.RSSBytes > peak {
				peak = m.RSSBytes
			}
			select {
			case <-done:
				result <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 { close(done); return <-result }
}

// errUnreachable marks a request that reached no webhook: refused or reset
// connections while the process is down, or the API server's "failed
// calling webhook".
var errUnreachable = errors.New("webhook unreachable")

// unreachablePause is how long a load client waits after errUnreachable.
const unreachablePause = 100 * time.Millisecond

// isConnError tells a connection that could not be made or was lost from an
// answer.
func isConnError(err error) bool {
	// A request that times out got no answer either: the process was
	// killed under it, or is still starting after a restart.
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) ||
		// HTTP/2 reports a dead server's connection without an errno.
		strings.Contains(err.Error(), "client connection lost")
}

// call sends one request; it returns an error for an unexpected answer.
type call func(ctx context.Context) error

// hammer runs op with clients concurrent callers for d and reports
// latency percentiles and throughput.
func hammer(ctx context.Context, name, path string, clients int, d time.Duration, op func(client int) call) Latency {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var all []time.Duration
	errs, conns := 0, 0
	var firstErr error
	began := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		do := op(c)
		wg.Go(func() {
			var mine []time.Duration
			bad, down := 0, 0
			var err1 error
			for ctx.Err() == nil {
				t := time.Now()
				err := do(ctx)
				if ctx.Err() != nil {
					break // cut off by the end of the phase: not a sample
				}
				if errors.Is(err, errUnreachable) {
					// Not a latency sample; a pause so that a dead webhook
					// counts failed attempts, not a client spinning.
					down++
					select {
					case <-ctx.Done():
					case <-time.After(unreachablePause):
					}
					continue
				}
				mine = append(mine, time.Since(t))
				if err != nil {
					bad++
					if err1 == nil {
						err1 = err
					}
				}
			}
			mu.Lock()
			all = append(all, mine...)
			errs += bad
			conns += down
			if firstErr == nil {
				firstErr = err1
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	if firstErr != nil {
		logf("  %s %s: %d unexpected answers, first: %v", path, name, errs, firstErr)
	}
	if conns > 0 {
		logf("  %s %s: %d requests found no webhook", path, name, conns)
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	return Latency{Op: name, Path: path, Requests: len(all), Errors: errs, ConnErrors: conns,
		P50Ms: pct(0.50), P99Ms: pct(0.99), P999Ms: pct(0.999), Throughput: float64(len(all)) / elapsed.Seconds()}
}

// hammerDirect runs hammer with clients clones of base, each with a
// connection of its own, calling do and expecting want.
func hammerDirect(ctx context.Context, name, path string, base *directClient, clients int, d time.Duration, want decision, do func(*directClient) call) Latency {
	own := make([]*directClient, clients)
	l := hammer(ctx, name, path, clients, d, func(i int) call {
		own[i] = base.clone()
		return checked(want, do(own[i]))
	})
	for _, c := range own {
		c.close()
	}
	l.Decision = want.String()
	return l
}

// directClient posts AdmissionReviews to the webhook's HTTPS port over
// HTTP/2, trusting the CA of the webhook's Secret. A foreign binary's
// serving certificate names its Service, not 127.0.0.1, so it is not
// verified; neither is ours with insecure when the Secret is absent.
type directClient struct {
	base string
	tls  *tls.Config
	http *http.Client
}

func newDirectClient(ctx context.Context, c *harness.Client, base string, foreign, insecure bool) (*directClient, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: "127.0.0.1"}
	secret := obj(map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "harvester-network-webhook-ca", "namespace": harness.WebhookNamespace}})
	got, err := c.Get(ctx, secret)
	switch {
	case foreign:
		cfg.InsecureSkipVerify = true
	case err == nil:
		pemB64, _, _ := unstructured.NestedString(got.Object, "data", "tls.crt")
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(decodeB64(pemB64)) {
			return nil, errors.New("no certificate in the CA Secret")
		}
		cfg.RootCAs = pool
	case insecure:
		cfg.InsecureSkipVerify = true // asked for with -insecure
	default:
		return nil, fmt.Errorf("read the webhook CA (use -insecure to skip verification): %w", err)
	}
	return newTransport(base, cfg), nil
}

func newTransport(base string, cfg *tls.Config) *directClient {
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 1}
	return &directClient{base: base, tls: cfg, http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// clone is a client with its own connection, as each API server has one.
func (d *directClient) clone() *directClient { return newTransport(d.base, d.tls) }

// close closes the client's idle connection: a phase's fifty connections
// must not linger on the webhook into the next phase.
func (d *directClient) close() { d.http.CloseIdleConnections() }

// review posts body to path and returns the response's allowed flag and
// message.
func (d *directClient) review(ctx context.Context, path string, body []byte) (bool, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+path, bytes.NewReader(body))
	if err != nil {
		return false, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.http.Do(req)
	if err != nil {
		if ctx.Err() == nil && isConnError(err) {
			err = fmt.Errorf("%w: %w", errUnreachable, err)
		}
		return false, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		if ctx.Err() == nil && isConnError(err) {
			err = fmt.Errorf("%w: %w", errUnreachable, err) // died while answering
		}
		return false, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return false, "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	var r struct {
		Response struct {
			Allowed bool `json:"allowed"`
			Status  struct {
				Message string `json:"message"`
			} `json:"status"`
		} `json:"response"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return false, "", fmt.Errorf("decode %s: %w", b, err)
	}
	return r.Response.Allowed, r.Response.Status.Message, nil
}

// Memory is the webhook's steady-state memory; -1 where unknown.
type Memory struct {
	LiveHeapBytes   int64  `json:"live_heap_bytes"`
	LiveHeapSource  string `json:"live_heap_source"`
	HeapInuseBytes  int64  `json:"heap_inuse_bytes"`
	RSSBytes        int64  `json:"rss_bytes"`
	PeakRSSBytes    int64  `json:"peak_rss_bytes"`
	GCTraceLiveByte int64  `json:"gctrace_live_bytes"`
}

// gcLine matches the "#->#-># MB" field of a GODEBUG=gctrace=1 line: heap
// at GC start, at GC end, and live heap (runtime package documentation).
var gcLine = regexp.MustCompile(`(?m)^gc \d+ @.* (\d+)->(\d+)->(\d+) MB`)

// lastGCLive is the live heap of the last GC traced in logs, or -1.
func lastGCLive(logs string) int64 {
	m := gcLine.FindAllStringSubmatch(logs, -1)
	if len(m) == 0 {
		return -1
	}
	mb, err := strconv.ParseInt(m[len(m)-1][3], 10, 64)
	if err != nil {
		return -1
	}
	return mb << 20
}

// memory reads /proc and /metrics; a webhook without go_gc_heap_live_bytes
// (a foreign binary) gets the live heap of its last traced GC.
func memory(w process) Memory {
	m := Memory{LiveHeapBytes: -1, HeapInuseBytes: -1, RSSBytes: -1, PeakRSSBytes: -1}
	got, err := w.Memory()
	if got.RSSBytes > 0 {
		m.RSSBytes, m.PeakRSSBytes = got.RSSBytes, got.PeakRSSBytes
	}
	m.GCTraceLiveByte = lastGCLive(w.Logs())
	if err == nil {
		m.LiveHeapBytes, m.LiveHeapSource = got.LiveHeapBytes, "go_gc_heap_live_bytes"
	} else if m.GCTraceLiveByte >= 0 {
		m.LiveHeapBytes, m.LiveHeapSource = m.GCTraceLiveByte, "gctrace"
	}
	if v, err := w.Metric("go_memstats_heap_inuse_bytes"); err == nil {
		m.HeapInuseBytes = int64(v)
	}
	return m
}

// dryRun is the option that makes API server requests store nothing.
var dryRun = []string{metav1.DryRunAll}
