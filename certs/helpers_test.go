package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

const (
	testNS      = "harvester-system"
	testSvcName = "harvester-network-webhook.harvester-system.svc"
	caName      = "harvester-network-webhook-ca"
	tlsName     = "harvester-network-webhook-tls"
	// storedRV is the resourceVersion seeded Secrets carry, so tests can
	// check that updates are conditional on it.
	storedRV = "7"
)

var testNow = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

type testCA struct {
	cert            *x509.Certificate
	key             *ecdsa.PrivateKey
	certPEM, keyPEM []byte
}

// newDynamiclistenerCA builds a CA the way upstream's dynamiclistener does:
// ECDSA P-256, CN dynamiclistener-ca@<ts>, 10 years, key as EC PRIVATE KEY.
func newDynamiclistenerCA(t *testing.T, notBefore time.Time) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("dynamiclistener-ca@%d", notBefore.Unix()), Organization: []string{"dynamiclistener-org"}},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(10 * 365 * day),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, certPEM: pemCert(der), keyPEM: pemKey(t, key)}
}

// leafSpec describes a serving certificate for issue.
type leafSpec struct {
	names    []string // DNS names or IPs
	notAfter time.Time
	eku      []x509.ExtKeyUsage
}

func validLeafSpec(names ...string) leafSpec {
	return leafSpec{names: names, notAfter: testNow.Add(300 * day), eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
}

// issue signs a leaf as dynamiclistener would (CN and O "dynamic").
func (ca *testCA) issue(t *testing.T, spec leafSpec) (cert *x509.Certificate, certPEM, keyPEM []byte) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: "dynamic", Organization: []string{"dynamic"}},
		NotBefore:    ca.cert.NotBefore,
		NotAfter:     spec.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  spec.eku,
	}
	for _, n := range spec.names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	return cert, pemCert(der), pemKey(t, key)
}

func tlsSecret(name string, certPEM, keyPEM []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, ResourceVersion: storedRV},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
	}
}

func testOptions(extra ...string) Options {
	return Options{Namespace: testNS, ExtraSANs: extra, Now: func() time.Time { return testNow }}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func serial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func pemKey(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

func parseCertPEM(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("no PEM block in %q", b)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// ensureWith runs Ensure against the fake clientset's Secrets in opts.Namespace.
func ensureWith(t *testing.T, client *fake.Clientset, opts Options) (*Bundle, error) {
	t.Helper()
	return Ensure(t.Context(), client.CoreV1().Secrets(opts.Namespace), opts)
}
