package controlplane

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pkiFiles are the paths of the key material kube-apiserver is started with.
type pkiFiles struct {
	caCert      string // CA that signed the serving certificate
	servingCert string
	servingKey  string
	saKey       string // service-account token signing key (private)
	saPub       string // its public half, to verify tokens
}

// writePKI creates a throwaway CA, a serving certificate for kube-apiserver
// on loopback, and a service-account signing key, all under dir. It returns
// the CA certificate in PEM, which clients need to trust the server.
func writePKI(dir string) (pkiFiles, []byte, error) {
	files := pkiFiles{
		caCert:      filepath.Join(dir, "ca.crt"),
		servingCert: filepath.Join(dir, "apiserver.crt"),
		servingKey:  filepath.Join(dir, "apiserver.key"),
		saKey:       filepath.Join(dir, "sa.key"),
		saPub:       filepath.Join(dir, "sa.pub"),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return files, nil, fmt.Errorf("create pki dir: %w", err)
	}

	// Backdated a little so a clock step does not make fresh certificates
	// "not yet valid"; a year is far longer than any test or dev session.
	notBefore := time.Now().Add(-time.Hour)
	notAfter := notBefore.Add(365 * 24 * time.Hour)

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return files, nil, fmt.Errorf("generate CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "controlplane-ca"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := signCert(caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return files, nil, fmt.Errorf("sign CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return files, nil, fmt.Errorf("parse CA certificate: %w", err)
	}

	servingKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return files, nil, fmt.Errorf("generate serving key: %w", err)
	}
	servingTmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
	}
	servingDER, err := signCert(servingTmpl, caCert, servingKey.Public(), caKey)
	if err != nil {
		return files, nil, fmt.Errorf("sign serving certificate: %w", err)
	}

	// RSA because it is what every kube-apiserver version and token
	// consumer accepts for service-account tokens.
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return files, nil, fmt.Errorf("generate service-account key: %w", err)
	}

	servingKeyPEM, err := privateKeyPEM(servingKey)
	if err != nil {
		return files, nil, fmt.Errorf("encode serving key: %w", err)
	}
	saKeyPEM, err := privateKeyPEM(saKey)
	if err != nil {
		return files, nil, fmt.Errorf("encode service-account key: %w", err)
	}
	saPubPEM, err := publicKeyPEM(saKey.Public())
	if err != nil {
		return files, nil, fmt.Errorf("encode service-account public key: %w", err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	for path, data := range map[string][]byte{
		files.caCert:      caPEM,
		files.servingCert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: servingDER}),
		files.servingKey:  servingKeyPEM,
		files.saKey:       saKeyPEM,
		files.saPub:       saPubPEM,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return files, nil, fmt.Errorf("write %s: %w", filepath.Base(path), err)
		}
	}
	return files, caPEM, nil
}

func signCert(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	tmpl.SerialNumber = serial
	return x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
}

func privateKeyPEM(key crypto.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func publicKeyPEM(key crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
