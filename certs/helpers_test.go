package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	k8stesting "k8s.io/client-go/testing"
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
	return ensure(t, client.CoreV1().Secrets(opts.Namespace), opts)
}

// testClock is a settable clock, safe for the Keeper's goroutines.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: testNow} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// shortOptions are validities of minutes: windows of 1 minute (leaf) and 3
// minutes (CA), and a 10-second propagation delay.
func shortOptions(clock *testClock, logger *zap.Logger) Options {
	return Options{
		Namespace: testNS, CAValidity: 9 * time.Minute, LeafValidity: 3 * time.Minute,
		PropagationDelay: 10 * time.Second, Now: clock.Now, Logger: logger,
	}
}

// fakeAPI is a fake clientset whose Secrets behave as the API server's do
// for writers, which the plain fake does not: every write gets a new
// resourceVersion, an update that carries one must carry the current one,
// and a create fails if the name exists. It records when, by the clock, each write
// succeeded.
type fakeAPI struct {
	*fake.Clientset
	clock *testClock

	mu     sync.Mutex
	rv     int
	writes []apiWrite
}

type apiWrite struct {
	secret string
	at     time.Time
}

func newFakeAPI(clock *testClock) *fakeAPI {
	a := &fakeAPI{Clientset: fake.NewClientset(), clock: clock, rv: 100}
	a.PrependReactor("create", "secrets", func(action k8stesting.Action) (bool, runtime.Object, error) {
		s := action.(k8stesting.CreateAction).GetObject().(*corev1.Secret).DeepCopy()
		s.Namespace = action.GetNamespace()
		return true, s, a.write(s, func() error { return a.Tracker().Create(secretsResource, s, s.Namespace) })
	})
	a.PrependReactor("update", "secrets", func(action k8stesting.Action) (bool, runtime.Object, error) {
		s := action.(k8stesting.UpdateAction).GetObject().(*corev1.Secret).DeepCopy()
		s.Namespace = action.GetNamespace()
		precondition := s.ResourceVersion
		return true, s, a.write(s, func() error {
			current, err := a.Tracker().Get(secretsResource, s.Namespace, s.Name)
			if err != nil {
				return err
			}
			// Without a resourceVersion the update is unconditional, as
			// the API server allows for Secrets.
			if precondition != "" && current.(*corev1.Secret).ResourceVersion != precondition {
				return apierrors.NewConflict(secretsResource.GroupResource(), s.Name, errors.New("stale resourceVersion"))
			}
			return a.Tracker().Update(secretsResource, s, s.Namespace)
		})
	})
	return a
}

// write stamps s with the next resourceVersion and stores it, atomically
// with the check store makes.
func (a *fakeAPI) write(s *corev1.Secret, store func() error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rv++
	s.ResourceVersion = strconv.Itoa(a.rv)
	if err := store(); err != nil {
		return err
	}
	a.writes = append(a.writes, apiWrite{secret: s.Name, at: a.clock.Now()})
	return nil
}

// writesTo counts the successful writes of the named Secret.
func (a *fakeAPI) writesTo(name string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, w := range a.writes {
		if w.secret == name {
			n++
		}
	}
	return n
}

func (a *fakeAPI) secrets() WatchableSecretClient {
	return watchable{a.CoreV1().Secrets(testNS)}
}

// watchable tells client-go's reflector that the fake cannot stream a
// watch list (only the fake Clientset says so, not its typed clients), so
// that it lists and then watches.
type watchable struct{ corev1client.SecretInterface }

func (watchable) IsWatchListSemanticsUnSupported() bool { return true }

// harness runs a Keeper and drives its timer: each wait gets a channel of
// its own, and a value sent on it ends that wait.
type harness struct {
	*Keeper

	mu    sync.Mutex
	waits []time.Duration // asked for, one after each pass
	timer chan time.Time  // the latest wait's
}

// waited returns the waits the Keeper asked for, in order.
func (h *harness) waited() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.waits)
}

func (h *harness) passes() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.waits)
}

// startKeeper runs a Keeper on api until the test ends, and waits until
// it has loaded and watches both Secrets.
func startKeeper(t *testing.T, api *fakeAPI, opts Options) *harness {
	t.Helper()
	h := runKeeper(t, api, opts)
	h.waitLoaded(t)
	api.waitForWatches(t, 2)
	return h
}

func (h *harness) waitLoaded(t *testing.T) {
	t.Helper()
	select {
	case <-h.Loaded():
	case <-time.After(10 * time.Second):
		t.Fatal("the Keeper did not load")
	}
}

// waitForWatches waits until n watches are open. The plain fake tracker
// replays to a watch only the objects added since the list it follows, not
// deletions, so a test must not delete before then. The fake records a
// watch under the lock it registers the watcher in, so the record suffices.
func (a *fakeAPI) waitForWatches(t *testing.T, n int) {
	t.Helper()
	eventually(t, "the watches to open", func() bool {
		open := 0
		for _, action := range a.Actions() {
			if action.GetVerb() == "watch" {
				open++
			}
		}
		return open >= n
	})
}

func runKeeper(t *testing.T, api *fakeAPI, opts Options) *harness {
	t.Helper()
	return runKeeperOn(t, api.secrets(), opts)
}

func runKeeperOn(t *testing.T, secrets WatchableSecretClient, opts Options) *harness {
	t.Helper()
	k, err := NewKeeper(secrets, opts)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{Keeper: k}
	k.after = func(d time.Duration) <-chan time.Time {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.waits = append(h.waits, d)
		h.timer = make(chan time.Time)
		return h.timer
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v after cancellation, want nil", err)
		}
	})
	return h
}

// pass ends the Keeper's current wait and returns once the pass that
// follows has finished, that is, once the Keeper waits again. A pass woken
// by a watch event may run meanwhile; the send then goes to its wait.
func (h *harness) pass(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		timer, n := h.timer, len(h.waits)
		h.mu.Unlock()
		select {
		case timer <- time.Time{}:
			eventually(t, "the pass to finish", func() bool { return h.passes() > n })
			return
		case <-time.After(time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("the Keeper is not waiting")
			}
		}
	}
}

// eventually polls cond until it holds, for at most 10 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// served returns the leaf the Keeper serves.
func (h *harness) served(t *testing.T) *x509.Certificate {
	t.Helper()
	c, err := h.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf
}

// bundle returns the certificates of the Keeper's caBundle.
func (h *harness) bundle() []*x509.Certificate {
	certs, _ := parseCertificates(h.CABundle())
	return certs
}

// storedLeaf and storedCAs parse what the Secrets hold now.
func storedLeaf(t *testing.T, api *fakeAPI) *x509.Certificate {
	t.Helper()
	return parseCertPEM(t, getSecret(t, api.Clientset, tlsName).Data[corev1.TLSCertKey])
}

func storedCAs(t *testing.T, api *fakeAPI) []*x509.Certificate {
	t.Helper()
	certs, _ := parseCertificates(getSecret(t, api.Clientset, caName).Data[corev1.TLSCertKey])
	return certs
}

func signedBy(leaf, ca *x509.Certificate) bool { return leaf.CheckSignatureFrom(ca) == nil }

// ensure makes one pass of a Keeper without watching, as the first pass of
// Run does, and returns what it would serve.
func ensure(t *testing.T, secrets SecretClient, opts Options) (*Bundle, error) {
	t.Helper()
	k, err := newKeeper(secrets, opts)
	if err != nil {
		return nil, err
	}
	if err := k.sync(t.Context()); err != nil {
		return nil, err
	}
	return &k.bundle, nil
}
