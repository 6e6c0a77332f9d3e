package hostile

import (
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// handshake dials the webhook's HTTPS port with cfg (the client certificate
// added unless cfg names its own) and returns the handshake's error and
// the connection's state.
func handshake(t *testing.T, cfg *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	cfg.InsecureSkipVerify = true // the tests are about what the server accepts
	if cfg.Certificates == nil {
		cfg.Certificates = []tls.Certificate{env.clientCert}
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", strings.TrimPrefix(env.webhook.URL, "https://"), cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer func() { _ = conn.Close() }()
	// TLS 1.3 reports a refused client certificate only on the first read.
	_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := conn.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
		return conn.ConnectionState(), err
	}
	return conn.ConnectionState(), nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// The server speaks TLS 1.2 and 1.3 only, and TLS 1.2 with upstream's six
// ECDHE suites only.
func TestTLSVersionsAndCipherSuites(t *testing.T) {
	upstreams := []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		if _, err := handshake(t, &tls.Config{MinVersion: v, MaxVersion: v}); err == nil {
			t.Errorf("%s accepted, want refused", tls.VersionName(v))
		}
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		if st, err := handshake(t, &tls.Config{MinVersion: v, MaxVersion: v}); err != nil || st.Version != v {
			t.Errorf("%s: %v, want accepted", tls.VersionName(v), err)
		}
	}
	accepted := 0
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if !slices.Contains(s.SupportedVersions, tls.VersionTLS12) {
			continue
		}
		_, err := handshake(t, &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{s.ID}})
		upstream := slices.Contains(upstreams, s.ID)
		switch {
		case upstream && err == nil:
			accepted++
		case !upstream && err == nil:
			t.Errorf("TLS 1.2 with %s accepted, want refused: not one of upstream's six", s.Name)
		}
	}
	// The serving key is RSA or ECDSA: half of the six apply to it.
	if accepted != 3 {
		t.Errorf("%d of upstream's suites accepted, want the 3 of the serving key's type", accepted)
	}
}

// With --client-ca-file the webhook accepts only clients that present a
// certificate its CA signed; the API server, configured with one, is one
// (TestMain waited for its reviews).
func TestClientCertificatesAreRequired(t *testing.T) {
	for name, certs := range map[string][]tls.Certificate{
		"no certificate":              {},
		"a certificate of another CA": {env.otherCert},
	} {
		if _, err := handshake(t, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: certs}); err == nil {
			t.Errorf("%s: accepted, want refused", name)
		}
	}
	if _, err := handshake(t, &tls.Config{MinVersion: tls.VersionTLS12}); err != nil {
		t.Errorf("the API server's client certificate: %v", err)
	}
}
