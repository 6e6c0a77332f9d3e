package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"slices"
	"sync/atomic"
	"time"
)

// Bundle is what the server needs: the caBundle for the webhook
// configurations, and the serving certificate. Both sit behind one atomic
// pointer, so a renewal swaps them while handshakes are running, and a
// reader never sees a leaf with the bundle of another pass.
type Bundle struct {
	cur atomic.Pointer[material]
}

// material is one consistent view of both Secrets.
type material struct {
	caPEM     []byte              // the CA Secret's tls.crt: the caBundle
	caCerts   []*x509.Certificate // caPEM parsed; the first one signs
	published time.Time           // when caCerts[0] entered the bundle; zero if unknown
	cert      *tls.Certificate    // the serving certificate; its Leaf is set
	certPEM   []byte              // cert in PEM, to restore the serving Secret
	keyPEM    []byte
}

func (b *Bundle) load() *material { return b.cur.Load() }

// CAPEM returns the CA Secret's tls.crt as last read, for caBundle: the
// current CA first, then previous CAs still in date. The caller must not
// modify it.
func (b *Bundle) CAPEM() []byte {
	if m := b.cur.Load(); m != nil {
		return m.caPEM
	}
	return nil
}

// Certificate returns the current serving certificate, with its Leaf set,
// or nil before the first load.
func (b *Bundle) Certificate() *tls.Certificate {
	if m := b.cur.Load(); m != nil {
		return m.cert
	}
	return nil
}

// GetCertificate serves the current certificate whatever the SNI: the API
// server may dial by Service name or, outside a cluster, by IP. A handshake
// takes the certificate current at that moment; established connections
// keep theirs.
func (b *Bundle) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := b.Certificate(); c != nil {
		return c, nil
	}
	return nil, errors.New("certs: no serving certificate loaded")
}

// cipherSuites are upstream's six TLS 1.2 suites. Go does not let TLS 1.3
// suites be configured, and upstream did not either.
var cipherSuites = [...]uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// CipherSuites returns upstream's six suites, the ones the webhook serves.
func CipherSuites() []uint16 { return slices.Clone(cipherSuites[:]) }

// tlsConfig returns the server TLS configuration upstream used: TLS 1.2 or
// later, its six ECDHE suites, HTTP/2 offered, and b's certificate.
func tlsConfig(b *Bundle) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   CipherSuites(),
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: b.GetCertificate,
	}
}
