package certs

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

func TestNeedsNewLeaf(t *testing.T) {
	ca := newDynamiclistenerCA(t, testNow.Add(-400*day))
	other := newDynamiclistenerCA(t, testNow.Add(-400*day))
	sans := []string{testSvcName, "127.0.0.1"}
	leaf := func(ca *testCA, spec leafSpec) *x509.Certificate {
		cert, _, _ := ca.issue(t, spec)
		return cert
	}
	nearExpiry := validLeafSpec(sans...)
	nearExpiry.notAfter = testNow.Add(89 * day)
	expired := validLeafSpec(sans...)
	expired.notAfter = testNow.Add(-time.Minute)
	clientOnly := validLeafSpec(sans...)
	clientOnly.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	noEKU := validLeafSpec(sans...)
	noEKU.eku = nil

	tests := map[string]struct {
		leaf       *x509.Certificate
		wantNew    bool
		wantReason string
	}{
		"a valid leaf is kept":                      {leaf: leaf(ca, validLeafSpec(sans...))},
		"a leaf with extra names is kept":           {leaf: leaf(ca, validLeafSpec(append(sans, "localhost")...))},
		"a leaf without extended key usage is kept": {leaf: leaf(ca, noEKU)},
		"no leaf is replaced":                       {wantNew: true, wantReason: "absent"},
		"a leaf lacking the IP SAN is replaced":     {leaf: leaf(ca, validLeafSpec(testSvcName)), wantNew: true, wantReason: `"127.0.0.1"`},
		"a leaf lacking the service name is replaced": {
			leaf: leaf(ca, validLeafSpec("127.0.0.1", "harvester-network-webhook.other.svc")), wantNew: true, wantReason: testSvcName,
		},
		"a leaf expiring within 90 days is replaced": {leaf: leaf(ca, nearExpiry), wantNew: true, wantReason: "within 2160h"},
		"an expired leaf is replaced":                {leaf: leaf(ca, expired), wantNew: true, wantReason: "expires at"},
		"a leaf signed by another CA is replaced":    {leaf: leaf(other, validLeafSpec(sans...)), wantNew: true, wantReason: "not signed by the current CA"},
		"a client-only leaf is replaced":             {leaf: leaf(ca, clientOnly), wantNew: true, wantReason: "server auth"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			gotNew, reason := needsNewLeaf(tc.leaf, ca.cert, sans, testNow, DefaultRenewBefore)
			if gotNew != tc.wantNew || !strings.Contains(reason, tc.wantReason) {
				t.Errorf("needsNewLeaf = (%v, %q), want (%v, containing %q)", gotNew, reason, tc.wantNew, tc.wantReason)
			}
		})
	}
}

func TestNeedsNewCA(t *testing.T) {
	ca := newDynamiclistenerCA(t, testNow.Add(-3*365*day))
	old := newDynamiclistenerCA(t, testNow.Add(-10*365*day+60*day))
	notCA, _, _ := ca.issue(t, validLeafSpec(testSvcName))

	tests := map[string]struct {
		ca         *x509.Certificate
		wantNew    bool
		wantReason string
	}{
		"a dynamiclistener CA is kept":             {ca: ca.cert},
		"no CA is replaced":                        {wantNew: true, wantReason: "absent"},
		"a leaf in the CA Secret is replaced":      {ca: notCA, wantNew: true, wantReason: "not a CA"},
		"a CA expiring within 90 days is replaced": {ca: old.cert, wantNew: true, wantReason: "CA expires at"},
		"a CA valid only from the future is kept":  {ca: newDynamiclistenerCA(t, testNow.Add(time.Minute)).cert},
		"a CA that cannot sign certs is replaced":  {ca: withKeyUsage(ca.cert, x509.KeyUsageDigitalSignature), wantNew: true, wantReason: "cert signing"},
		"a CA without key usage bits is kept":      {ca: withKeyUsage(ca.cert, 0)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			gotNew, reason := needsNewCA(tc.ca, testNow, DefaultRenewBefore)
			if gotNew != tc.wantNew || !strings.Contains(reason, tc.wantReason) {
				t.Errorf("needsNewCA = (%v, %q), want (%v, containing %q)", gotNew, reason, tc.wantNew, tc.wantReason)
			}
		})
	}
}

// withKeyUsage returns a copy of c with KeyUsage replaced; needsNewCA reads
// only parsed fields, so the signature need not match.
func withKeyUsage(c *x509.Certificate, ku x509.KeyUsage) *x509.Certificate {
	cp := *c
	cp.KeyUsage = ku
	return &cp
}

func TestParseAuthority(t *testing.T) {
	ca := newDynamiclistenerCA(t, testNow.Add(-day))
	other := newDynamiclistenerCA(t, testNow.Add(-day))
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8PEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})

	tests := map[string]struct {
		certPEM, keyPEM []byte
		wantErr         string
	}{
		"an EC PRIVATE KEY as dynamiclistener writes it": {certPEM: ca.certPEM, keyPEM: ca.keyPEM},
		"a PKCS#8 key":                   {certPEM: ca.certPEM, keyPEM: pkcs8PEM},
		"a key of another certificate":   {certPEM: ca.certPEM, keyPEM: other.keyPEM, wantErr: "does not match"},
		"no certificate":                 {keyPEM: ca.keyPEM, wantErr: "no PEM certificate"},
		"a key where the cert should be": {certPEM: ca.keyPEM, keyPEM: ca.keyPEM, wantErr: "no PEM certificate"},
		"no key":                         {certPEM: ca.certPEM, wantErr: "parse tls.key"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseAuthority(tc.certPEM, tc.keyPEM)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseAuthority error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.cert.Equal(ca.cert) || string(got.certPEM) != string(ca.certPEM) {
				t.Error("parseAuthority did not return the stored CA verbatim")
			}
		})
	}
}
