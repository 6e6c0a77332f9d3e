package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha1"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

var secretsResource = corev1.SchemeGroupVersion.WithResource("secrets")

func TestEnsureCreatesBothSecretsWhenAbsent(t *testing.T) {
	client := fake.NewClientset()
	b, err := ensureWith(t, client, testOptions("127.0.0.1", "localhost"))
	if err != nil {
		t.Fatal(err)
	}
	caSecret := getSecret(t, client, caName)
	tlsSec := getSecret(t, client, tlsName)

	ca := parseCertPEM(t, caSecret.Data[corev1.TLSCertKey])
	wantKU := x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	if !ca.IsCA || ca.KeyUsage != wantKU || !isP256(ca) {
		t.Errorf("CA: IsCA=%v KeyUsage=%v P-256=%v, want a P-256 CA with KeyUsage %v", ca.IsCA, ca.KeyUsage, isP256(ca), wantKU)
	}
	if got := ca.NotAfter.Sub(testNow); got != DefaultCAValidity {
		t.Errorf("CA valid for %v from now, want %v", got, DefaultCAValidity)
	}
	if string(b.CAPEM()) != string(caSecret.Data[corev1.TLSCertKey]) {
		t.Error("Bundle.CAPEM differs from the CA Secret's tls.crt")
	}

	leaf := parseCertPEM(t, tlsSec.Data[corev1.TLSCertKey])
	verifyLeaf(t, leaf, ca, testSvcName, "127.0.0.1", "localhost")
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || !isP256(leaf) {
		t.Errorf("leaf: ExtKeyUsage=%v P-256=%v, want ServerAuth on P-256", leaf.ExtKeyUsage, isP256(leaf))
	}
	if got := leaf.NotAfter.Sub(testNow); got != DefaultLeafValidity {
		t.Errorf("leaf valid for %v from now, want %v", got, DefaultLeafValidity)
	}
	if !b.Certificate().Leaf.Equal(leaf) {
		t.Error("Bundle serves a different leaf than the stored one")
	}
	for _, s := range []*corev1.Secret{caSecret, tlsSec} {
		if s.Type != corev1.SecretTypeTLS {
			t.Errorf("secret %s has type %q, want %q", s.Name, s.Type, corev1.SecretTypeTLS)
		}
	}
	wantAnnotations := map[string]string{
		"listener.cattle.io/cn-" + testSvcName: testSvcName,
		"listener.cattle.io/cn-127.0.0.1":      "127.0.0.1",
		"listener.cattle.io/cn-localhost":      "localhost",
	}
	for k, v := range wantAnnotations {
		if tlsSec.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, tlsSec.Annotations[k], v)
		}
	}
	wantFP := fmt.Sprintf("SHA1=%X", sha1.Sum(leaf.Raw))
	if fp := tlsSec.Annotations["listener.cattle.io/fingerprint"]; fp != wantFP {
		t.Errorf("fingerprint annotation = %q, want %q", fp, wantFP)
	}
	assertVerbs(t, client, "get", "create", "get", "create")
}

func TestEnsureReusesExistingCA(t *testing.T) {
	upstream := newDynamiclistenerCA(t, testNow.Add(-2*365*day))
	caSecret := tlsSecret(caName, upstream.certPEM, upstream.keyPEM)
	client := fake.NewClientset(caSecret.DeepCopy())

	b, err := ensureWith(t, client, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if string(b.CAPEM()) != string(upstream.certPEM) {
		t.Error("caBundle changed: Bundle.CAPEM is not the stored tls.crt byte for byte")
	}
	stored := getSecret(t, client, caName)
	if string(stored.Data[corev1.TLSCertKey]) != string(upstream.certPEM) || string(stored.Data[corev1.TLSPrivateKeyKey]) != string(upstream.keyPEM) {
		t.Error("the upstream CA Secret was rewritten")
	}
	verifyLeaf(t, b.Certificate().Leaf, upstream.cert, testSvcName)
	assertVerbs(t, client, "get", "get", "create")
}

func TestEnsureReusesValidLeaf(t *testing.T) {
	ca := newDynamiclistenerCA(t, testNow.Add(-day))
	leaf, certPEM, keyPEM := ca.issue(t, validLeafSpec(testSvcName, "127.0.0.1"))
	client := fake.NewClientset(tlsSecret(caName, ca.certPEM, ca.keyPEM), tlsSecret(tlsName, certPEM, keyPEM))

	b, err := ensureWith(t, client, testOptions("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if !b.Certificate().Leaf.Equal(leaf) {
		t.Error("a valid leaf was not reused")
	}
	assertVerbs(t, client, "get", "get")
}

func TestEnsureReplacesUnusableLeaf(t *testing.T) {
	ca := newDynamiclistenerCA(t, testNow.Add(-day))
	other := newDynamiclistenerCA(t, testNow.Add(-day))
	type keyPair struct{ certPEM, keyPEM []byte }
	pairOf := func(ca *testCA, spec leafSpec) keyPair {
		_, certPEM, keyPEM := ca.issue(t, spec)
		return keyPair{certPEM, keyPEM}
	}
	valid := validLeafSpec(testSvcName, "127.0.0.1")
	nearExpiry := valid
	nearExpiry.notAfter = testNow.Add(30 * day)

	tests := map[string]keyPair{
		"a leaf lacking the IP SAN":        pairOf(ca, validLeafSpec(testSvcName)),
		"a leaf within its renewal window": pairOf(ca, nearExpiry),
		"a leaf signed by another CA":      pairOf(other, valid),
		"a Secret holding no key pair":     {certPEM: []byte("garbage")},
		"a leaf whose key is not its own":  {certPEM: pairOf(ca, valid).certPEM, keyPEM: other.keyPEM},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			stale := tlsSecret(tlsName, tc.certPEM, tc.keyPEM)
			stale.Data["extra"] = []byte("kept")
			stale.Annotations = map[string]string{
				"listener.cattle.io/cn-old.example": "old.example",
				"unrelated":                         "kept",
			}
			client := fake.NewClientset(tlsSecret(caName, ca.certPEM, ca.keyPEM), stale)

			b, err := ensureWith(t, client, testOptions("127.0.0.1"))
			if err != nil {
				t.Fatal(err)
			}
			assertVerbs(t, client, "get", "get", "update")
			update := client.Actions()[2].(k8stesting.UpdateAction).GetObject().(*corev1.Secret)
			if update.ResourceVersion != storedRV {
				t.Errorf("update carries resourceVersion %q, want the one read (%q) as precondition", update.ResourceVersion, storedRV)
			}
			stored := getSecret(t, client, tlsName)
			leaf := parseCertPEM(t, stored.Data[corev1.TLSCertKey])
			verifyLeaf(t, leaf, ca.cert, testSvcName, "127.0.0.1")
			if !b.Certificate().Leaf.Equal(leaf) {
				t.Error("Bundle serves a different leaf than the stored one")
			}
			if string(stored.Data["extra"]) != "kept" || stored.Annotations["unrelated"] != "kept" {
				t.Error("unrelated data or annotations were dropped")
			}
			if _, ok := stored.Annotations["listener.cattle.io/cn-old.example"]; ok {
				t.Error("a stale cn- annotation survived")
			}
		})
	}
}

func TestEnsureReplacesUnusableCA(t *testing.T) {
	ca := newDynamiclistenerCA(t, testNow.Add(-day))
	_, leafPEM, leafKey := ca.issue(t, validLeafSpec(testSvcName))
	// A leaf where the CA should be, and a leaf signed by the old CA.
	client := fake.NewClientset(tlsSecret(caName, leafPEM, leafKey), tlsSecret(tlsName, leafPEM, leafKey))

	b, err := ensureWith(t, client, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	assertVerbs(t, client, "get", "update", "get", "update")
	newCA := parseCertPEM(t, getSecret(t, client, caName).Data[corev1.TLSCertKey])
	if !newCA.IsCA || string(b.CAPEM()) != string(getSecret(t, client, caName).Data[corev1.TLSCertKey]) {
		t.Error("the unusable CA was not replaced by a new one in the Bundle")
	}
	verifyLeaf(t, b.Certificate().Leaf, newCA, testSvcName)
}

// TestEnsureCarriesTheCAOfACorruptedSecret starts with nothing in memory:
// the old CA is carried from the stored tls.crt, so the stored leaf it
// signed stays in service while the new CA propagates.
func TestEnsureCarriesTheCAOfACorruptedSecret(t *testing.T) {
	old := newDynamiclistenerCA(t, testNow.Add(-day))
	leaf, leafPEM, leafKey := old.issue(t, validLeafSpec(testSvcName))
	client := fake.NewClientset(tlsSecret(caName, old.certPEM, []byte("corrupted")), tlsSecret(tlsName, leafPEM, leafKey))

	b, err := ensureWith(t, client, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	assertVerbs(t, client, "get", "update", "get")
	certs, _ := parseCertificates(b.CAPEM())
	if len(certs) != 2 || certs[0].Equal(old.cert) || !certs[1].Equal(old.cert) {
		t.Fatalf("caBundle holds %d certificates, want a new CA, then the old", len(certs))
	}
	if !b.Certificate().Leaf.Equal(leaf) {
		t.Error("the stored leaf of the old CA was not kept while the new CA propagates")
	}
	stored := getSecret(t, client, caName)
	if _, err := parseAuthority(stored.Data[corev1.TLSCertKey], stored.Data[corev1.TLSPrivateKeyKey]); err != nil {
		t.Errorf("the recreated CA Secret is unusable: %v", err)
	}
	if stored.Annotations[AnnotationCAPublished] != testNow.Format(time.RFC3339) {
		t.Errorf("%s = %q, want %s", AnnotationCAPublished, stored.Annotations[AnnotationCAPublished], testNow.Format(time.RFC3339))
	}
}

func TestEnsurePrunesTheBundle(t *testing.T) {
	ca := newDynamiclistenerCA(t, testNow.Add(-day))
	expired := newDynamiclistenerCA(t, testNow.Add(-11*365*day))
	junk := []byte("-----BEGIN CERTIFICATE-----\nbm90IERFUg==\n-----END CERTIFICATE-----\n")
	caSecret := tlsSecret(caName, slices.Concat(ca.certPEM, expired.certPEM, junk, ca.certPEM), ca.keyPEM)
	caSecret.Annotations = map[string]string{AnnotationCAPublished: "2020-01-01T00:00:00Z"}
	client := fake.NewClientset(caSecret)

	b, err := ensureWith(t, client, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	stored := getSecret(t, client, caName)
	if string(stored.Data[corev1.TLSCertKey]) != string(ca.certPEM) || string(b.CAPEM()) != string(ca.certPEM) {
		t.Error("the bundle was not pruned to the one CA in date")
	}
	if string(stored.Data[corev1.TLSPrivateKeyKey]) != string(ca.keyPEM) || stored.Annotations[AnnotationCAPublished] != "2020-01-01T00:00:00Z" {
		t.Error("pruning changed the key or the publication time")
	}
	verifyLeaf(t, b.Certificate().Leaf, ca.cert, testSvcName)
}

func TestEnsureUsesTheWinnerAfterLosingACreateRace(t *testing.T) {
	ca := newDynamiclistenerCA(t, testNow.Add(-day))
	winner, winnerCert, winnerKey := ca.issue(t, validLeafSpec(testSvcName))
	client := fake.NewClientset(tlsSecret(caName, ca.certPEM, ca.keyPEM))
	// Another replica creates the serving Secret just before we do.
	raced := false
	client.PrependReactor("create", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		if raced {
			return false, nil, nil
		}
		raced = true
		if err := client.Tracker().Create(secretsResource, tlsSecret(tlsName, winnerCert, winnerKey), testNS); err != nil {
			t.Fatal(err)
		}
		return true, nil, apierrors.NewAlreadyExists(secretsResource.GroupResource(), tlsName)
	})

	b, err := ensureWith(t, client, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !b.Certificate().Leaf.Equal(winner) {
		t.Error("after AlreadyExists the winner's leaf was not used")
	}
	assertVerbs(t, client, "get", "get", "create", "get")
}

func TestEnsureUsesTheWinnerAfterLosingAnUpdateRace(t *testing.T) {
	ca := newDynamiclistenerCA(t, testNow.Add(-day))
	_, staleCert, staleKey := ca.issue(t, validLeafSpec("old.example"))
	winner, winnerCert, winnerKey := ca.issue(t, validLeafSpec(testSvcName))
	client := fake.NewClientset(tlsSecret(caName, ca.certPEM, ca.keyPEM), tlsSecret(tlsName, staleCert, staleKey))
	raced := false
	client.PrependReactor("update", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		if raced {
			return false, nil, nil
		}
		raced = true
		if err := client.Tracker().Update(secretsResource, tlsSecret(tlsName, winnerCert, winnerKey), testNS); err != nil {
			t.Fatal(err)
		}
		return true, nil, apierrors.NewConflict(secretsResource.GroupResource(), tlsName, nil)
	})

	b, err := ensureWith(t, client, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !b.Certificate().Leaf.Equal(winner) {
		t.Error("after Conflict the winner's leaf was not used")
	}
	assertVerbs(t, client, "get", "get", "update", "get")
}

func TestEnsureGivesUpWhenContendedForever(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewAlreadyExists(secretsResource.GroupResource(), caName)
	})
	_, err := ensureWith(t, client, testOptions())
	if err == nil || !strings.Contains(err.Error(), "still contended") {
		t.Fatalf("Ensure error = %v, want a contention error", err)
	}
}

func TestEnsureWrapsAPIErrors(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(secretsResource.GroupResource(), caName, nil)
	})
	_, err := ensureWith(t, client, testOptions())
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "get secret "+caName) {
		t.Fatalf("Ensure error = %v, want a wrapped Forbidden naming the Secret", err)
	}
}

func TestEnsureRejectsBadOptions(t *testing.T) {
	tests := map[string]struct {
		opts    Options
		wantErr string
	}{
		"no namespace":              {opts: Options{}, wantErr: "namespace is required"},
		"a SAN that is a URL":       {opts: Options{Namespace: testNS, ExtraSANs: []string{"https://127.0.0.1:8443"}}, wantErr: "neither an IP nor a DNS name"},
		"a renew fraction of 1":     {opts: Options{Namespace: testNS, RenewFraction: 1}, wantErr: "not between 0 and 1"},
		"a negative renew fraction": {opts: Options{Namespace: testNS, RenewFraction: -0.5}, wantErr: "not between 0 and 1"},
		"a propagation delay the leaf would not outlive": {
			opts:    Options{Namespace: testNS, LeafValidity: 3 * time.Minute, PropagationDelay: time.Minute},
			wantErr: "propagation delay 1m0s is not shorter than the shortest renewal window, 1m0s",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			client := fake.NewClientset()
			_, err := ensureWith(t, client, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Ensure error = %v, want one containing %q", err, tc.wantErr)
			}
			if n := len(client.Actions()); n != 0 {
				t.Errorf("Ensure made %d API calls with bad options", n)
			}
		})
	}
}

func TestOptionsNames(t *testing.T) {
	o := Options{Namespace: "ns", ServiceName: "svc", ExtraSANs: []string{" 127.0.0.1 ", "", "svc.ns.svc", "127.0.0.1", "::1"}}
	got := []string{o.CASecretName(), o.TLSSecretName(), o.ServiceDNSName()}
	if want := []string{"svc-ca", "svc-tls", "svc.ns.svc"}; !slices.Equal(got, want) {
		t.Errorf("names = %v, want %v", got, want)
	}
	if got, want := o.SANs(), []string{"svc.ns.svc", "127.0.0.1", "::1"}; !slices.Equal(got, want) {
		t.Errorf("SANs() = %v, want %v", got, want)
	}
	if got := (Options{Namespace: "ns"}).ServiceDNSName(); got != "harvester-network-webhook.ns.svc" {
		t.Errorf("default ServiceDNSName = %q", got)
	}
}

// assertVerbs checks the exact API calls: only get/create/update of the two
// Secrets, by name, in the test namespace (never a list or watch).
func assertVerbs(t *testing.T, client *fake.Clientset, want ...string) {
	t.Helper()
	var got []string
	for _, a := range client.Actions() {
		got = append(got, a.GetVerb())
		if a.GetResource() != secretsResource || a.GetNamespace() != testNS {
			t.Errorf("unexpected call %s %v in %q", a.GetVerb(), a.GetResource(), a.GetNamespace())
		}
		if name := actionName(a); name != caName && name != tlsName {
			t.Errorf("call %s on secret %q, want only %s or %s", a.GetVerb(), name, caName, tlsName)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("API calls = %v, want %v", got, want)
	}
}

func actionName(a k8stesting.Action) string {
	switch a := a.(type) {
	case k8stesting.GetAction:
		return a.GetName()
	case k8stesting.CreateAction: // UpdateAction has the same method set
		return a.GetObject().(metav1.Object).GetName()
	}
	return ""
}

func getSecret(t *testing.T, client *fake.Clientset, name string) *corev1.Secret {
	t.Helper()
	s, err := client.Tracker().Get(secretsResource, testNS, name)
	if err != nil {
		t.Fatal(err)
	}
	return s.(*corev1.Secret)
}

// verifyLeaf checks the chain the way the API server does, for each name.
func verifyLeaf(t *testing.T, leaf, ca *x509.Certificate, names ...string) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, n := range names {
		opts := x509.VerifyOptions{Roots: roots, DNSName: n, CurrentTime: testNow.Add(time.Minute)}
		if _, err := leaf.Verify(opts); err != nil {
			t.Errorf("leaf does not verify for %q: %v", n, err)
		}
	}
}

func isP256(c *x509.Certificate) bool {
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	return ok && pub.Curve == elliptic.P256()
}
