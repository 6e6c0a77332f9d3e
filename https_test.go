package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	rtmetrics "runtime/metrics"
	"testing"
	"time"
)

// testCA issues certificates for tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"}, IsCA: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// client issues a client certificate.
func (ca *testCA) client(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestClientCertificatesAreRequiredOnlyWithAClientCAFile(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		caFile string
		client []tls.Certificate
		ok     bool
	}{
		{"no CA file, no certificate", "", nil, true},
		{"CA file, no certificate", caFile, nil, false},
		{"CA file, certificate of another CA", caFile, []tls.Certificate{other.client(t, "kube-apiserver")}, false},
		{"CA file, certificate it signed", caFile, []tls.Certificate{ca.client(t, "kube-apiserver")}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
			cfg, err := withClientCAs(&tls.Config{MinVersion: tls.VersionTLS12}, tt.caFile)
			if err != nil {
				t.Fatal(err)
			}
			srv.TLS = cfg
			srv.StartTLS()
			defer srv.Close()
			client := srv.Client()
			client.Transport.(*http.Transport).TLSClientConfig.Certificates = tt.client
			resp, err := client.Get(srv.URL)
			if err == nil {
				_ = resp.Body.Close()
			}
			if (err == nil) != tt.ok {
				t.Errorf("GET: %v, want success %v", err, tt.ok)
			}
		})
	}
}

func TestTheHTTPSServerBoundsEveryPhaseOfARequest(t *testing.T) {
	s := newHTTPSServer(http.NotFoundHandler())
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 30*time.Second || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		t.Errorf("server limits %+v: want read, write (beyond the API server's 30 s) and idle timeouts, and a header limit", s)
	}
}

// After a large request, an idle HTTP/2 connection keeps no buffer sized by
// it: the API server's connections to the webhook live indefinitely, and a
// client can open many.
func TestIdleHTTP2ConnectionsKeepNoLargeBuffers(t *testing.T) {
	const conns, body = 20, 1 << 20
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = newHTTPSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	payload := bytes.Repeat([]byte("x"), body)
	before := liveHeap()
	clients := make([]*http.Client, conns)
	for i := range clients {
		tr := srv.Client().Transport.(*http.Transport).Clone()
		clients[i] = &http.Client{Transport: tr}
		// The second request sends frames as large as the server allows:
		// the first starts before the server's settings arrive.
		for range 2 {
			resp, err := clients[i].Post(srv.URL, "application/octet-stream", bytes.NewReader(payload))
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.ProtoMajor != 2 {
				t.Fatalf("answered over %s, want HTTP/2", resp.Proto)
			}
		}
	}
	grown := liveHeap() - before
	if grown > 4<<20 {
		t.Errorf("%d idle connections that each sent %d bytes hold %.1f MiB, want a few KiB each", conns, body, float64(grown)/(1<<20))
	}
	for _, c := range clients {
		c.CloseIdleConnections()
	}
}

// liveHeap is the live heap after two collections (pools emptied).
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	s := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
	rtmetrics.Read(s)
	return int64(s[0].Value.Uint64())
}
