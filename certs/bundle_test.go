package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"
)

func TestTLSConfigMatchesUpstream(t *testing.T) {
	cfg := tlsConfig(&Bundle{})
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
	}
	var suites []string
	for _, id := range cfg.CipherSuites {
		suites = append(suites, tls.CipherSuiteName(id))
	}
	want := []string{
		"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
		"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
		"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
		"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	}
	if !slices.Equal(suites, want) {
		t.Errorf("CipherSuites = %v, want %v", suites, want)
	}
	if !slices.Equal(cfg.NextProtos, []string{"h2", "http/1.1"}) {
		t.Errorf("NextProtos = %v, want [h2 http/1.1]", cfg.NextProtos)
	}
	if cfg.GetCertificate == nil || len(cfg.Certificates) != 0 {
		t.Error("the certificate must come from GetCertificate only, so it can be swapped")
	}
}

func TestGetCertificateWithoutCertificateFails(t *testing.T) {
	if _, err := (&Bundle{}).GetCertificate(nil); err == nil {
		t.Error("GetCertificate on an empty Bundle returned no error")
	}
}

// TestHandshake serves with TLSConfig over real TCP and dials the way the
// API server does: trusting only caBundle, by Service name or by IP.
func TestHandshake(t *testing.T) {
	opts := testOptions("127.0.0.1")
	opts.Now = time.Now // the client checks validity against the real clock
	b, err := ensureWith(t, fake.NewClientset(), opts)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(b.CAPEM()) {
		t.Fatal("CAPEM holds no certificate")
	}
	addr := serve(t, tlsConfig(b))

	tests := map[string]struct {
		serverName string
		maxVersion uint16
		wantErr    string
		wantProto  string
		wantSuite  string
	}{
		"by service name over HTTP/2": {serverName: testSvcName, wantProto: "HTTP/2.0"},
		"by IP over HTTP/2":           {wantProto: "HTTP/2.0"},
		"TLS 1.2 picks an ECDSA suite": {
			serverName: testSvcName, maxVersion: tls.VersionTLS12,
			wantProto: "HTTP/2.0", wantSuite: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
		},
		"a name the leaf lacks fails": {serverName: "harvester-network-webhook.other.svc", wantErr: "certificate is valid for"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			transport := &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: tc.serverName, MaxVersion: tc.maxVersion},
				ForceAttemptHTTP2: true,
			}
			defer transport.CloseIdleConnections()
			resp, err := (&http.Client{Transport: transport, Timeout: 10 * time.Second}).Get("https://" + addr + "/")
			if tc.wantErr != "" {
				var verr *tls.CertificateVerificationError
				if !errors.As(err, &verr) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want a verification error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.Proto != tc.wantProto || string(body) != "ok" {
				t.Errorf("got %s %q, want %s \"ok\"", resp.Proto, body, tc.wantProto)
			}
			if suite := tls.CipherSuiteName(resp.TLS.CipherSuite); tc.wantSuite != "" && suite != tc.wantSuite {
				t.Errorf("cipher suite = %s, want %s", suite, tc.wantSuite)
			}
		})
	}
}

// serve runs an HTTPS server on a loopback port until the test ends and
// returns its address.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		TLSConfig:         cfg,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // the failing-name case logs a handshake error
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("server: %v", err)
		}
	})
	return ln.Addr().String()
}
