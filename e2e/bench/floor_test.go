package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestFloorAllowsWithTheReviewsUID(t *testing.T) {
	body, err := reviewBody(nadType, "CREATE", benchNS, "n", stamp(nadObject("n", 4000), "1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var sent struct {
		Request struct{ UID string } `json:"request"`
	}
	if err := json.Unmarshal(body, &sent); err != nil || sent.Request.UID == "" {
		t.Fatalf("the review has no UID: %v", err)
	}
	rec := httptest.NewRecorder()
	floorHandler(rec, httptest.NewRequest(http.MethodPost, validationPath, bytes.NewReader(body)))
	want := `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":"` + sent.Request.UID + `","allowed":true}}`
	if rec.Code != http.StatusOK || rec.Body.String() != want || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("HTTP %d %q %s\nwant HTTP 200 application/json %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body, want)
	}
	for name, bad := range map[string]string{
		"not JSON":      "{",
		"no request":    `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`,
		"a wrong field": `{"request":{"uid":7}}`,
	} {
		rec := httptest.NewRecorder()
		floorHandler(rec, httptest.NewRequest(http.MethodPost, validationPath, strings.NewReader(bad)))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", name, rec.Code)
		}
	}
}

// TestFloorServesTheWebhooksTLS serves the floor with its TLS: the bench's
// client gets "allowed" over HTTP/2 with an ECDHE suite, and TLS 1.1 is
// refused.
func TestFloorServesTheWebhooksTLS(t *testing.T) {
	cfg, err := floorTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(floorHandler))
	srv.TLS, srv.EnableHTTP2 = cfg, true
	srv.StartTLS()
	defer srv.Close()

	f := &floorServer{url: srv.URL}
	d := f.client()
	defer d.close()
	body, err := reviewBody(vcType, "UPDATE", "", "vc", map[string]any{"kind": "VlanConfig"}, map[string]any{"kind": "VlanConfig"})
	if err != nil {
		t.Fatal(err)
	}
	if allowed, msg, err := d.review(t.Context(), validationPath, body); err != nil || !allowed {
		t.Fatalf("review: allowed %v, %q, %v", allowed, msg, err)
	}
	resp, err := d.http.Post(srv.URL+mutationPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("%s over TLS %x, want HTTP/2 over TLS 1.2 or later", resp.Proto, resp.TLS.Version)
	}

	for _, tc := range []struct {
		name     string
		min, max uint16
		served   bool
	}{
		{"TLS 1.2", tls.VersionTLS12, tls.VersionTLS12, true},
		{"TLS 1.1", tls.VersionTLS10, tls.VersionTLS11, false},
	} {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			MinVersion: tc.min, MaxVersion: tc.max, InsecureSkipVerify: true}}}
		resp, err := c.Post(srv.URL+validationPath, "application/json", bytes.NewReader(body))
		if (err == nil) != tc.served {
			t.Errorf("%s client: %v, want served %v", tc.name, err, tc.served)
		}
		if err == nil {
			_ = resp.Body.Close()
			if s := tls.CipherSuiteName(resp.TLS.CipherSuite); !strings.HasPrefix(s, "TLS_ECDHE_") {
				t.Errorf("%s client: suite %s, want ECDHE", tc.name, s)
			}
		}
	}
}

// TestMain serves the floor when startFloor re-executes the test binary,
// as it does the bench's.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == floorCommand {
		if err := serveFloor(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

func TestStartFloorRunsItAsAProcess(t *testing.T) {
	limited := []int64{0}
	if cg, err := newCgroup(limits{cpuMilli: 100}); err == nil {
		if err := cg.remove(); err != nil {
			t.Fatal(err)
		}
		limited = append(limited, 100)
	} else {
		t.Logf("no CPU-limited floor: %v", err)
	}
	body, err := reviewBody(nadType, "DELETE", benchNS, "n", nil, nadObject("n", 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, milli := range limited {
		f, err := startFloor(milli)
		if err != nil {
			t.Fatalf("%dm: %v", milli, err)
		}
		d := f.client()
		allowed, _, err := d.review(t.Context(), validationPath, body)
		d.close()
		if err != nil || !allowed {
			t.Errorf("%dm: allowed %v, %v", milli, allowed, err)
		}
		if r := cpuClock(f.cg, f.pid)(); r.err != nil {
			t.Errorf("%dm: no CPU reading: %v", milli, r.err)
		}
		if (f.cg != nil) != (milli > 0) {
			t.Errorf("%dm: cgroup %v", milli, f.cg)
		}
		if err := f.stop(); err != nil {
			t.Errorf("%dm: stop: %v", milli, err)
		}
		if f.cg != nil {
			for _, dir := range f.cg.dirs {
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					t.Errorf("%dm: cgroup %s left behind", milli, dir)
				}
			}
		}
	}
}
