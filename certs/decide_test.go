package certs

import (
	"cmp"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	defaultLeafWindow = Options{}.withDefaults().leafWindow() // about 121.7 days
	defaultCAWindow   = Options{}.withDefaults().caWindow()   // about 3.3 years
)

func TestUnservable(t *testing.T) {
	ca := newDynamiclistenerCA(t, testNow.Add(-400*day))
	previous := newDynamiclistenerCA(t, testNow.Add(-400*day))
	other := newDynamiclistenerCA(t, testNow.Add(-400*day))
	trusted := []*x509.Certificate{ca.cert, previous.cert}
	sans := []string{testSvcName, "127.0.0.1"}
	leaf := func(ca *testCA, spec leafSpec) *x509.Certificate {
		cert, _, _ := ca.issue(t, spec)
		return cert
	}
	expired := validLeafSpec(sans...)
	expired.notAfter = testNow.Add(-time.Minute)
	clientOnly := validLeafSpec(sans...)
	clientOnly.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	noEKU := validLeafSpec(sans...)
	noEKU.eku = nil

	tests := map[string]struct {
		leaf       *x509.Certificate
		wantReason string
	}{
		"a valid leaf is servable":                       {leaf: leaf(ca, validLeafSpec(sans...))},
		"a leaf of a previous CA in the bundle is":       {leaf: leaf(previous, validLeafSpec(sans...))},
		"a leaf with extra names is servable":            {leaf: leaf(ca, validLeafSpec(append(sans, "localhost")...))},
		"a leaf without extended key usage is servable":  {leaf: leaf(ca, noEKU)},
		"a leaf lacking the IP SAN is not":               {leaf: leaf(ca, validLeafSpec(testSvcName)), wantReason: `does not cover "127.0.0.1"`},
		"a leaf lacking the service name is not":         {leaf: leaf(ca, validLeafSpec("127.0.0.1", "harvester-network-webhook.other.svc")), wantReason: testSvcName},
		"an expired leaf is not":                         {leaf: leaf(ca, expired), wantReason: "expired at"},
		"a leaf signed by a CA not in the bundle is not": {leaf: leaf(other, validLeafSpec(sans...)), wantReason: "not signed by a CA in the bundle"},
		"a client-only leaf is not":                      {leaf: leaf(ca, clientOnly), wantReason: "server auth"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := unservable(tc.leaf, trusted, sans, testNow)
			if got.ok() != (tc.wantReason == "") || !strings.Contains(got.reason, tc.wantReason) || got.broken {
				t.Errorf("unservable = %+v, want a reason containing %q, not broken", got, tc.wantReason)
			}
		})
	}
}

func TestNeedsRenewal(t *testing.T) {
	ca := newDynamiclistenerCA(t, testNow.Add(-400*day))
	previous := newDynamiclistenerCA(t, testNow.Add(-400*day))
	// ending expires in 100 days, inside a default leaf window.
	ending := newDynamiclistenerCA(t, testNow.Add(-10*365*day+100*day))
	leaf := func(ca *testCA, notAfter time.Time) *x509.Certificate {
		spec := validLeafSpec(testSvcName)
		spec.notAfter = notAfter
		cert, _, _ := ca.issue(t, spec)
		return cert
	}
	// A few-minute leaf, issued as newLeaf issues it: backdated by an hour.
	// Its window must come from the configured validity: a third of its
	// NotAfter-NotBefore (21 minutes) would call it due at once, forever.
	const shortValidity = 3 * time.Minute
	_, _, short, err := newLeaf(&authority{cert: ca.cert, key: ca.key}, []string{testSvcName}, testNow, shortValidity)
	if err != nil {
		t.Fatal(err)
	}

	tests := map[string]struct {
		leaf, signer *x509.Certificate
		window       time.Duration
		wantReason   string
	}{
		"a leaf with 300 days left is kept":   {leaf: leaf(ca, testNow.Add(300*day)), signer: ca.cert},
		"a leaf with 100 days left is due":    {leaf: leaf(ca, testNow.Add(100*day)), signer: ca.cert, wantReason: "within 2920h"},
		"a leaf of a previous CA is replaced": {leaf: leaf(previous, testNow.Add(300*day)), signer: ca.cert, wantReason: "signed by a previous CA"},
		"a due leaf is kept while its CA could give no better": {
			leaf: leaf(ending, testNow.Add(90*day)), signer: ending.cert,
		},
		"a leaf just issued for minutes is not due": {leaf: short.Leaf, signer: ca.cert, window: fraction(shortValidity, DefaultRenewFraction)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			window := cmp.Or(tc.window, defaultLeafWindow)
			got := needsRenewal(tc.leaf, tc.signer, testNow, window)
			if got.ok() != (tc.wantReason == "") || !strings.Contains(got.reason, tc.wantReason) {
				t.Errorf("needsRenewal = %+v, want a reason containing %q", got, tc.wantReason)
			}
		})
	}
}

func TestNeedsNewCA(t *testing.T) {
	ca := newDynamiclistenerCA(t, testNow.Add(-3*365*day))
	notCA, _, _ := ca.issue(t, validLeafSpec(testSvcName))

	tests := map[string]struct {
		ca         *x509.Certificate
		wantReason string
		wantBroken bool
	}{
		"a dynamiclistener CA with 7 years left is kept": {ca: ca.cert},
		"a CA with 3 years left is rotated": {
			ca: newDynamiclistenerCA(t, testNow.Add(-7*365*day)).cert, wantReason: "CA expires at",
		},
		"an expired CA is rotated": {
			ca: newDynamiclistenerCA(t, testNow.Add(-11*365*day)).cert, wantReason: "CA expires at",
		},
		"a leaf in the CA Secret is replaced":     {ca: notCA, wantReason: "not a CA", wantBroken: true},
		"a CA valid only from the future is kept": {ca: newDynamiclistenerCA(t, testNow.Add(time.Minute)).cert},
		"a CA that cannot sign certs is replaced": {
			ca: withKeyUsage(ca.cert, x509.KeyUsageDigitalSignature), wantReason: "cert signing", wantBroken: true,
		},
		"a CA without key usage bits is kept": {ca: withKeyUsage(ca.cert, 0)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := needsNewCA(tc.ca, testNow, defaultCAWindow)
			if got.ok() != (tc.wantReason == "") || !strings.Contains(got.reason, tc.wantReason) || got.broken != tc.wantBroken {
				t.Errorf("needsNewCA = %+v, want a reason containing %q, broken %v", got, tc.wantReason, tc.wantBroken)
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

func TestPropagated(t *testing.T) {
	const delay = time.Minute
	tests := map[string]struct {
		published time.Time
		want      bool
	}{
		"unknown counts as long ago":                {want: true},
		"published just now is not":                 {published: testNow},
		"published a second short of the delay":     {published: testNow.Add(-delay + time.Second)},
		"published exactly the delay ago is":        {published: testNow.Add(-delay), want: true},
		"a few seconds ahead (skew) is not":         {published: testNow.Add(5 * time.Second)},
		"more than the delay ahead counts as bogus": {published: testNow.Add(delay + time.Second), want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := propagated(tc.published, testNow, delay); got != tc.want {
				t.Errorf("propagated = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBundleOf(t *testing.T) {
	a := newDynamiclistenerCA(t, testNow.Add(-day)).cert
	b := newDynamiclistenerCA(t, testNow.Add(-2*day)).cert
	expired := newDynamiclistenerCA(t, testNow.Add(-11*365*day)).cert
	leaf, _, _ := newDynamiclistenerCA(t, testNow.Add(-day)).issue(t, validLeafSpec(testSvcName))
	var many []*x509.Certificate
	for range maxBundle + 2 {
		many = append(many, newDynamiclistenerCA(t, testNow.Add(-day)).cert)
	}

	tests := map[string]struct {
		give [][]*x509.Certificate
		want []*x509.Certificate
	}{
		"order is kept across lists":         {give: [][]*x509.Certificate{{b}, {a}}, want: []*x509.Certificate{b, a}},
		"a CA in two lists appears once":     {give: [][]*x509.Certificate{{a, b}, {b, a}}, want: []*x509.Certificate{a, b}},
		"expired CAs and leaves are dropped": {give: [][]*x509.Certificate{{a, expired, leaf, b}}, want: []*x509.Certificate{a, b}},
		"the oldest go beyond the cap":       {give: [][]*x509.Certificate{many}, want: many[:maxBundle]},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := bundleOf(testNow, tc.give...)
			if !slices.EqualFunc(got, tc.want, (*x509.Certificate).Equal) {
				t.Errorf("bundleOf kept %d certificates, want %d in order", len(got), len(tc.want))
			}
		})
	}
}

func TestParseCertificates(t *testing.T) {
	a := newDynamiclistenerCA(t, testNow.Add(-day))
	b := newDynamiclistenerCA(t, testNow.Add(-day))
	bogus := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})
	bundle := slices.Concat(a.certPEM, a.keyPEM, bogus, []byte("text between blocks\n"), b.certPEM)

	certs, junk := parseCertificates(bundle)
	if len(certs) != 2 || !certs[0].Equal(a.cert) || !certs[1].Equal(b.cert) || junk != 2 {
		t.Errorf("parseCertificates = %d certificates, %d junk; want a and b, 2 junk", len(certs), junk)
	}
	if again, _ := parseCertificates(encodeCertificates(certs)); !slices.EqualFunc(again, certs, (*x509.Certificate).Equal) {
		t.Error("encodeCertificates does not round-trip")
	}
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
		"a PKCS#8 key": {certPEM: ca.certPEM, keyPEM: pkcs8PEM},
		"a bundle whose first certificate is the key's": {certPEM: slices.Concat(ca.certPEM, other.certPEM), keyPEM: ca.keyPEM},
		"a bundle whose second certificate is the key's": {
			certPEM: slices.Concat(other.certPEM, ca.certPEM), keyPEM: ca.keyPEM, wantErr: "does not match",
		},
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
			if !got.cert.Equal(ca.cert) {
				t.Error("parseAuthority did not return the first certificate")
			}
		})
	}
}
