package certs

import (
	"crypto/tls"
	"errors"
	"slices"
	"sync/atomic"
)

// Bundle is what the server needs: the CA PEM for the webhook
// configurations' caBundle, and the serving certificate. The certificate sits
// behind an atomic pointer so that a renewal can swap it while handshakes
// are running.
type Bundle struct {
	caPEM []byte
	cert  atomic.Pointer[tls.Certificate]
}

func newBundle(caPEM []byte, cert *tls.Certificate) *Bundle {
	b := &Bundle{caPEM: caPEM}
	b.cert.Store(cert)
	return b
}

// CAPEM returns the CA Secret's tls.crt as stored, for caBundle. The caller
// must not modify it.
func (b *Bundle) CAPEM() []byte { return b.caPEM }

// Certificate returns the current serving certificate; its Leaf is set.
func (b *Bundle) Certificate() *tls.Certificate { return b.cert.Load() }

// GetCertificate serves the current certificate whatever the SNI: the API
// server may dial by Service name or, outside a cluster, by IP.
func (b *Bundle) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := b.cert.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("certs: no serving certificate loaded")
}

// cipherSuites are upstream's six TLS 1.2 suites. Go does not let TLS 1.3
// suites be configured, and upstream did not either.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSConfig returns the server TLS configuration upstream used: TLS 1.2 or
// later, its six ECDHE suites, HTTP/2 offered, and b's certificate.
func TLSConfig(b *Bundle) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   slices.Clone(cipherSuites),
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: b.GetCertificate,
	}
}
