package admission

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/lowmem/harvester-network-webhook/informers"
	"github.com/lowmem/harvester-network-webhook/informers/informerstest"
)

func TestReviewDeadlineFollowsTheAPIServersTimeout(t *testing.T) {
	start := time.Now()
	for query, want := range map[string]time.Duration{
		"?timeout=10s": 9 * time.Second, // the API server's default
		"?timeout=1s":  900 * time.Millisecond,
		"?timeout=30s": 29 * time.Second,
		"?timeout=90s": 29 * time.Second, // more than an API server allows
		"":             defaultReviewTimeout,
		"?timeout=x":   defaultReviewTimeout,
		"?timeout=-1s": defaultReviewTimeout,
	} {
		req := httptest.NewRequest(http.MethodPost, ValidationPath+query, nil)
		if got := reviewDeadline(req, start).Sub(start); got != want {
			t.Errorf("%q: deadline in %s, want %s", query, got, want)
		}
	}
}

// deadlineStore records the deadline of the context the rules read with.
type deadlineStore struct {
	informers.Store
	deadlines chan time.Time
}

func (s deadlineStore) FirstVlanConfig(ctx context.Context, _ string) (*informers.VlanConfig, error) {
	d, _ := ctx.Deadline()
	s.deadlines <- d
	return nil, nil
}

func (s deadlineStore) KubeOVNEnabled() bool { return false }

func TestRulesReadWithinTheReviewsDeadline(t *testing.T) {
	store := deadlineStore{deadlines: make(chan time.Time, 1)}
	r := chi.NewRouter()
	NewServer(Config{Profile: Profile{Version: V1_4}, Store: store}).Routes(r)
	body := reviewFor(t, "admission.k8s.io/v1", admissionv1.Create, nad("default", "n", "{}", "{}", vlan100Config), "")
	began := time.Now()
	if rec := post(t, r, MutationPath+"?timeout=5s", "application/json", body); rec.Code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body.String())
	}
	got := (<-store.deadlines).Sub(began)
	if got < 4400*time.Millisecond || got > 4600*time.Millisecond {
		t.Errorf("rules read with a deadline in %s, want 4.5 s (5 s less a tenth)", got)
	}
}

func TestBodiesOverTheLimitAreRefusedUnread(t *testing.T) {
	h := newTestRouter(nil)
	req := httptest.NewRequest(http.MethodPost, ValidationPath, failingReader{})
	req.ContentLength = maxBodyBytes + 1
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "6553601 bytes, more than 6553600 bytes") {
		t.Errorf("HTTP %d %q, want 413 naming both sizes", rec.Code, rec.Body.String())
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("the body was read") }

// Large reviews are refused once their bodies pass the byte bound, at once
// and with a clear error; small ones still fit in the reserve they leave.
func TestTheByteBoundKeepsRoomForSmallReviews(t *testing.T) {
	s := NewServer(Config{Profile: Profile{Version: V1_4}, Store: informerstest.NewStore(t), MaxInFlightBytes: 1})
	r := chi.NewRouter()
	s.Routes(r)
	limit := s.bytes.limit
	if limit != maxBodyBytes+1+smallReserveBytes {
		t.Fatalf("byte bound %d, want the largest review and the reserve", limit)
	}
	large := reviewFor(t, "admission.k8s.io/v1", admissionv1.Create, nad("default", "n", "{}", "{}", strings.Repeat("x", 1<<20)), "")
	small := reviewFor(t, "admission.k8s.io/v1", admissionv1.Delete, "", nad("default", "unused", dataLabels, "{}", vlan100Config))
	if rec := post(t, r, ValidationPath, "application/json", large); rec.Code != http.StatusOK {
		t.Fatalf("a large review alone: HTTP %d %s", rec.Code, rec.Body.String())
	}
	if !s.bytes.take(limit-smallReserveBytes-(1<<20), false) { // other large reviews hold all but 1 MiB
		t.Fatal("could not fill the byte bound")
	}
	rec := post(t, r, ValidationPath, "application/json", large)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), errBusy.Error()) {
		t.Errorf("a large review over the bound: HTTP %d %q, want 503 %q", rec.Code, rec.Body.String(), errBusy)
	}
	if rec := post(t, r, ValidationPath, "application/json", small); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"allowed":true`) {
		t.Errorf("a small review beside them: HTTP %d %s", rec.Code, rec.Body.String())
	}
	if used := s.bytes.inUse(); used != limit-smallReserveBytes-(1<<20) {
		t.Errorf("%d bytes held after the answers, want only those taken by hand", used)
	}
}

// A client that sends its body slowly holds no in-flight slot, so the
// reviews behind it are answered; it is cut off at the review's deadline.
func TestSlowBodiesHoldNoSlot(t *testing.T) {
	s := NewServer(Config{Profile: Profile{Version: V1_4}, Store: informerstest.NewStore(t), MaxInFlight: 1})
	r := chi.NewRouter()
	s.Routes(r)
	srv := httptest.NewServer(r)
	defer srv.Close()

	slow := make([]net.Conn, 3)
	for i := range slow {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Close() }()
		fmt.Fprintf(c, "POST %s?timeout=2s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{", ValidationPath)
		slow[i] = c
	}
	time.Sleep(100 * time.Millisecond) // the slow ones are in their handlers
	body := reviewFor(t, "admission.k8s.io/v1", admissionv1.Delete, "", nad("default", "unused", dataLabels, "{}", vlan100Config))
	began := time.Now()
	resp, err := srv.Client().Post(srv.URL+ValidationPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if took := time.Since(began); resp.StatusCode != http.StatusOK || took > time.Second {
		t.Errorf("a review behind %d slow clients: HTTP %d after %s", len(slow), resp.StatusCode, took)
	}
	for _, c := range slow {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		answer, _ := io.ReadAll(c)
		if !strings.HasPrefix(string(answer), "HTTP/1.1 408") || !strings.Contains(string(answer), "did not arrive before the review's deadline") {
			t.Errorf("a slow client got %q, want 408 after its deadline", answer)
		}
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("slow clients cut off after %s, want their 1.8 s deadline", took)
	}
}

// Over HTTP/2, as the API server calls, many large reviews at once share a
// connection's flow-control window. Reading bodies before taking a slot
// lets every stream progress: each gets an answer or a clear refusal.
// (Taking the slot first deadlocked: slot holders waited for bytes that
// the streams waiting for a slot kept in the window.)
func TestLargeReviewsOverOneHTTP2ConnectionAllGetAnAnswer(t *testing.T) {
	r := chi.NewRouter()
	NewServer(Config{Profile: Profile{Version: V1_4}, Store: informerstest.NewStore(t)}).Routes(r)
	srv := httptest.NewUnstartedServer(r)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	client := srv.Client()
	client.Timeout = 20 * time.Second
	big := strings.Repeat("x", 3<<20)
	body := reviewFor(t, "admission.k8s.io/v1", admissionv1.Update, nad("default", "n", "{}", "{}", big), nad("default", "n", "{}", "{}", big))
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			resp, err := client.Post(srv.URL+ValidationPath, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.ProtoMajor != 2 {
				t.Errorf("answered over %s, want HTTP/2", resp.Proto)
			}
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[http.StatusOK] == 0 || codes[http.StatusOK]+codes[http.StatusServiceUnavailable] != 16 {
		t.Errorf("answers by HTTP status %v, want 16: some 200, the others 503", codes)
	}
}

func TestQueryValueIsURLValuesGet(t *testing.T) {
	for _, q := range []string{"", "timeout=10s", "a=1&timeout=5s&timeout=7s", "timeou%74=3s", "timeout=1%30s", "timeout", "timeout=",
		"x=1;timeout=2s", "timeout=%zz&timeout=4s", "tim+eout=1s&timeout=2s", "timeout=2s;x"} {
		want := ""
		if v, err := url.ParseQuery(q); err == nil || v != nil {
			want = v.Get("timeout")
		}
		if got := queryValue(q, "timeout"); got != want {
			t.Errorf("%q: got %q, want %q", q, got, want)
		}
	}
}
