package hostile

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// clientPKI is the API server's client identity towards webhooks.
type clientPKI struct {
	caFile          string // the CA the webhook's --client-ca-file names
	admissionConfig string // the API server's --admission-control-config-file
	client, other   tls.Certificate
}

// writeClientPKI writes a CA, a client certificate it signs for the API
// server, and the AdmissionConfiguration whose kubeconfig makes the API
// server present it to every webhook; other is signed by another CA.
func writeClientPKI(dir string) (*clientPKI, error) {
	ca, caKey, caPEM, err := newCA("webhook-client-ca")
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := issueClient(ca, caKey, "kube-apiserver")
	if err != nil {
		return nil, err
	}
	client, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	other, otherKey, _, err := newCA("another-ca")
	if err != nil {
		return nil, err
	}
	otherCertPEM, otherKeyPEM, err := issueClient(other, otherKey, "kube-apiserver")
	if err != nil {
		return nil, err
	}
	otherCert, err := tls.X509KeyPair(otherCertPEM, otherKeyPEM)
	if err != nil {
		return nil, err
	}
	p := &clientPKI{caFile: filepath.Join(dir, "client-ca.pem"), admissionConfig: filepath.Join(dir, "admission.yaml"),
		client: client, other: otherCert}
	kubeconfig := filepath.Join(dir, "webhook-client.kubeconfig")
	files := map[string][]byte{
		p.caFile:                                 caPEM,
		filepath.Join(dir, "webhook-client.crt"): certPEM,
		filepath.Join(dir, "webhook-client.key"): keyPEM,
		p.admissionConfig:                        []byte(admissionConfiguration(kubeconfig)),
		kubeconfig:                               []byte(webhookKubeconfig(dir)),
	}
	for name, b := range files {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// admissionConfiguration is the README's, for both webhook plugins.
func admissionConfiguration(kubeconfig string) string {
	plugin := func(name string) string {
		return `- name: ` + name + `
  configuration:
    apiVersion: apiserver.config.k8s.io/v1
    kind: WebhookAdmissionConfiguration
    kubeConfigFile: ` + kubeconfig + "\n"
	}
	return "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n" +
		plugin("ValidatingAdmissionWebhook") + plugin("MutatingAdmissionWebhook")
}

// webhookKubeconfig gives the client certificate for every webhook host
// ("*": the tests' webhooks listen on free loopback ports).
func webhookKubeconfig(dir string) string {
	return `apiVersion: v1
kind: Config
users:
- name: '*'
  user:
    client-certificate: ` + filepath.Join(dir, "webhook-client.crt") + `
    client-key: ` + filepath.Join(dir, "webhook-client.key") + "\n"
}

func newCA(name string) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, IsCA: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), err
}

func issueClient(ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}
