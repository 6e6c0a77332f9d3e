package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"time"

	"k8s.io/client-go/util/keyutil"
)

// backdate moves NotBefore into the past so that a certificate issued by a
// replica whose clock runs ahead is not "not yet valid" to the API server.
const backdate = time.Hour

// authority is a CA able to sign leaves.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// parseAuthority reads a CA from PEM: the first certificate, as
// dynamiclistener reads it, and its key. The key may be in any PEM form
// client-go understands (dynamiclistener writes "EC PRIVATE KEY"); it must
// match the first certificate, or the leaves it signs would not verify.
func parseAuthority(certPEM, keyPEM []byte) (*authority, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("tls.crt holds no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse tls.crt: %w", err)
	}
	parsed, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parse tls.key: %w", err)
	}
	key, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("tls.key holds a %T, which cannot sign", parsed)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, errors.New("tls.key does not match tls.crt")
	}
	return &authority{cert: cert, key: key}, nil
}

// parseCertificates reads every PEM block of a bundle, in order. Blocks that
// are not certificates, or do not parse, are counted in junk.
func parseCertificates(bundle []byte) (certs []*x509.Certificate, junk int) {
	for {
		var block *pem.Block
		block, bundle = pem.Decode(bundle)
		if block == nil {
			return certs, junk
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if block.Type != "CERTIFICATE" || err != nil {
			junk++
			continue
		}
		certs = append(certs, cert)
	}
}

// encodeCertificates writes certs as consecutive PEM blocks.
func encodeCertificates(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// newAuthority creates a self-signed ECDSA P-256 CA shaped like
// dynamiclistener's, and returns it with its key in PEM.
func newAuthority(cn string, now time.Time, validity time.Duration) (ca *authority, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	if keyPEM, err = encodeKey(key); err != nil {
		return nil, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if ca, err = parseAuthority(certPEM, keyPEM); err != nil {
		return nil, nil, fmt.Errorf("internal error: reparse new CA: %w", err)
	}
	return ca, keyPEM, nil
}

// parseLeaf reads a serving key pair. tls.X509KeyPair checks that the key
// matches and fills Leaf from the first certificate.
func parseLeaf(certPEM, keyPEM []byte) (*tls.Certificate, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return &pair, nil
}

// newLeaf issues an ECDSA P-256 serving certificate for sans, signed by ca.
// It returns the certificate and key in PEM plus the parsed pair.
func newLeaf(ca *authority, sans []string, now time.Time, validity time.Duration) (certPEM, keyPEM []byte, pair *tls.Certificate, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generate leaf key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: sans[0]},
		NotBefore:   later(now.Add(-backdate), ca.cert.NotBefore),
		NotAfter:    earlier(now.Add(validity), ca.cert.NotAfter),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, san := range sans {
		if ip := net.ParseIP(san); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, san)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create leaf certificate: %w", err)
	}
	if keyPEM, err = encodeKey(key); err != nil {
		return nil, nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if pair, err = parseLeaf(certPEM, keyPEM); err != nil {
		return nil, nil, nil, fmt.Errorf("internal error: reparse new leaf: %w", err)
	}
	return certPEM, keyPEM, pair, nil
}

// encodeKey writes an "EC PRIVATE KEY" block, the form dynamiclistener
// writes, so that upstream can read Secrets written here.
func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: keyutil.ECPrivateKeyBlockType, Bytes: der}), nil
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
