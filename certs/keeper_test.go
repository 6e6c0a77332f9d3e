package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/lowmem/harvester-network-webhook/internal/typed"
)

// The clients the webhook has: the typed client of clients.go, and
// client-go's.
var (
	_ WatchableSecretClient = (*typed.Client[*corev1.Secret, *corev1.SecretList])(nil)
	_ WatchableSecretClient = corev1client.SecretInterface(nil)
)

func TestKeeperWatchesItsTwoSecretsByNameOnly(t *testing.T) {
	api := newFakeAPI(newTestClock())
	startKeeper(t, api, shortOptions(newTestClock(), nil))

	selectors := map[string]bool{}
	for _, a := range api.Actions() {
		if a.GetResource() != secretsResource || a.GetNamespace() != testNS {
			t.Errorf("call %s %v in %q, want only secrets in %s", a.GetVerb(), a.GetResource(), a.GetNamespace(), testNS)
		}
		switch a := a.(type) {
		case k8stesting.ListAction:
			selectors["list "+a.GetListRestrictions().Fields.String()] = true
		case k8stesting.WatchAction:
			selectors["watch "+a.GetWatchRestrictions().Fields.String()] = true
		}
	}
	want := []string{
		"list metadata.name=" + caName, "list metadata.name=" + tlsName,
		"watch metadata.name=" + caName, "watch metadata.name=" + tlsName,
	}
	for _, w := range want {
		if !selectors[w] {
			t.Errorf("no %q among the list and watch calls", w)
		}
	}
	if len(selectors) != len(want) {
		t.Errorf("list and watch calls = %v, want exactly %v", selectors, want)
	}
}

// TestKeeperRenewsBeforeExpiry serves over real TLS and checks that a
// renewal changes what new handshakes get, not what an open connection
// uses.
func TestKeeperRenewsBeforeExpiry(t *testing.T) {
	clock := newTestClock()
	api := newFakeAPI(clock)
	h := startKeeper(t, api, shortOptions(clock, nil))
	first := h.served(t)
	addr := serve(t, h.TLSConfig())
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(h.CABundle())
	newClient := func() *http.Client {
		tr := &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: testSvcName, Time: clock.Now},
			ForceAttemptHTTP2: true,
		}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	peer := func(c *http.Client) *x509.Certificate {
		t.Helper()
		resp, err := c.Get("https://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.TLS.PeerCertificates[0]
	}
	open := newClient() // HTTP/2: every request rides one connection
	if !peer(open).Equal(first) {
		t.Fatal("the handshake did not serve the loaded leaf")
	}

	clock.Add(2 * time.Minute) // exactly one window (1 minute) left: not yet due
	h.pass(t)
	if !h.served(t).Equal(first) || api.writesTo(tlsName) != 1 {
		t.Fatal("the leaf was renewed before its window")
	}
	clock.Add(time.Second)
	h.pass(t)
	renewed := h.served(t)
	if renewed.Equal(first) {
		t.Fatal("the leaf was not renewed inside its window")
	}
	if !renewed.Equal(storedLeaf(t, api)) || !signedBy(renewed, h.bundle()[0]) {
		t.Error("the renewed leaf is not the stored one, signed by the same CA")
	}
	if got := renewed.NotAfter.Sub(clock.Now()); got != 3*time.Minute {
		t.Errorf("the renewed leaf is valid for %s, want 3m0s", got)
	}
	if !peer(open).Equal(first) {
		t.Error("the open connection changed certificate: was it dropped?")
	}
	if !peer(newClient()).Equal(renewed) {
		t.Error("a new handshake did not get the renewed leaf")
	}
}

func TestKeeperDoesNotLoopOnShortValidities(t *testing.T) {
	clock := newTestClock()
	api := newFakeAPI(clock)
	opts := shortOptions(clock, nil)
	opts.CAValidity = DefaultCAValidity // no CA rotation in these ten minutes
	h := startKeeper(t, api, opts)

	// Ten minutes in 5-second steps. A 3-minute leaf is renewed once less
	// than a minute is left, 125 s after its issue (the first step past
	// 120 s): at 125, 250, 375 and 500 s.
	for range 120 {
		clock.Add(5 * time.Second)
		h.pass(t)
	}
	if got := api.writesTo(tlsName); got != 1+4 {
		t.Errorf("the serving Secret was written %d times, want 5 (created, then renewed 4 times)", got)
	}
}

func TestCheckAfter(t *testing.T) {
	tests := map[string]struct {
		opts  func(*testClock) Options
		after time.Duration // clock advance after the load
		want  time.Duration
	}{
		"default validities wait the most, a minute": {
			opts:  func(c *testClock) Options { return Options{Namespace: testNS, Now: c.Now} },
			after: 2 * time.Minute, // past the CA's propagation
			want:  maxCheckInterval,
		},
		"a 3-minute leaf waits a tenth of its 1-minute window": {
			opts:  func(c *testClock) Options { return shortOptions(c, nil) },
			after: time.Minute, // past the CA's propagation
			want:  6 * time.Second,
		},
		"a deadline closer than a second waits a second": {
			opts:  func(c *testClock) Options { return shortOptions(c, nil) },
			after: 2*time.Minute - 300*time.Millisecond, // renewal due in 300 ms
			want:  minCheckInterval,
		},
		"the end of a CA's propagation, 4 s away, comes first": {
			opts: func(c *testClock) Options {
				return Options{Namespace: testNS, PropagationDelay: 4 * time.Second, Now: c.Now}
			},
			want: 4 * time.Second,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			clock := newTestClock()
			k, err := newKeeper(newFakeAPI(clock).secrets(), tc.opts(clock))
			if err != nil {
				t.Fatal(err)
			}
			if err := k.sync(t.Context()); err != nil {
				t.Fatal(err)
			}
			clock.Add(tc.after)
			if got := k.checkAfter(clock.Now()); got != tc.want {
				t.Errorf("checkAfter = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestKeeperRotatesTheCAInOrder walks a 9-minute CA through its rotation
// in 5-second steps and checks, at every step, what callers could see.
func TestKeeperRotatesTheCAInOrder(t *testing.T) {
	clock := newTestClock()
	api := newFakeAPI(clock)
	h := startKeeper(t, api, shortOptions(clock, nil))
	changed := h.WatchCABundle()
	oldCA := h.bundle()[0]

	var newCA *x509.Certificate
	var rotatedAt, reissuedAt time.Time
	for range 12 * 10 { // 10 minutes: past the old CA's expiry
		before := h.served(t)
		clock.Add(5 * time.Second)
		h.pass(t)
		now, leaf, bundle := clock.Now(), h.served(t), h.bundle()
		if !slices.ContainsFunc(bundle, func(ca *x509.Certificate) bool { return signedBy(leaf, ca) }) {
			t.Fatalf("at +%s the leaf served is signed by no CA of the caBundle served", now.Sub(testNow))
		}
		switch {
		case newCA == nil && !bundle[0].Equal(oldCA):
			newCA, rotatedAt = bundle[0], now
			if len(bundle) != 2 || !bundle[1].Equal(oldCA) {
				t.Fatalf("the rotated caBundle holds %d certificates, want the new CA then the old", len(bundle))
			}
			if !leaf.Equal(before) {
				t.Fatal("the leaf changed in the pass that rotated the CA")
			}
			if got := getSecret(t, api.Clientset, caName).Annotations[AnnotationCAPublished]; got != now.Format(time.RFC3339) {
				t.Errorf("%s = %q, want %s", AnnotationCAPublished, got, now.Format(time.RFC3339))
			}
			select {
			case <-changed:
			default:
				t.Error("no caBundle change was signalled")
			}
		case newCA != nil && reissuedAt.IsZero() && signedBy(leaf, newCA):
			reissuedAt = now
		}
	}
	if newCA == nil || reissuedAt.IsZero() {
		t.Fatal("the CA was not rotated, or no leaf of the new CA was served")
	}
	if got := rotatedAt.Sub(testNow); got != 6*time.Minute {
		t.Errorf("the CA was rotated %s after its issue, want 6m0s (a third of 9 minutes left)", got)
	}
	if got := reissuedAt.Sub(rotatedAt); got != 10*time.Second {
		t.Errorf("a leaf of the new CA was served %s after the CA was published, want the 10s delay", got)
	}
	// The old CA expired at +9m and has left the bundle.
	if b := h.bundle(); len(b) != 1 || !b[0].Equal(newCA) {
		t.Errorf("caBundle holds %d certificates at the end, want only the new CA", len(b))
	}
	select {
	case <-changed:
	default:
		t.Error("pruning the old CA was not signalled")
	}
}

// TestTwoKeepersConverge runs two replicas on one API through creation,
// renewals and a CA rotation: they must end serving the same, and never
// write a Secret twice at one moment (a flip-flop would).
func TestTwoKeepersConverge(t *testing.T) {
	clock := newTestClock()
	api := newFakeAPI(clock)
	a := runKeeper(t, api, shortOptions(clock, nil))
	b := runKeeper(t, api, shortOptions(clock, nil))
	a.waitLoaded(t)
	b.waitLoaded(t)
	api.waitForWatches(t, 4)
	agree := func() bool {
		return a.served(t).Equal(b.served(t)) && string(a.CABundle()) == string(b.CABundle()) &&
			string(a.CABundle()) == string(getSecret(t, api.Clientset, caName).Data[corev1.TLSCertKey]) &&
			a.served(t).Equal(storedLeaf(t, api))
	}
	eventually(t, "both replicas to serve the Secrets' leaf and caBundle", agree)

	for range 12 * 8 { // 8 minutes: renewals, then the rotation at +6m
		clock.Add(5 * time.Second)
		a.pass(t)
		b.pass(t)
	}
	eventually(t, "both replicas to agree again", agree)
	if bundle := a.bundle(); len(bundle) != 2 || !signedBy(a.served(t), bundle[0]) {
		t.Error("the replicas do not serve a leaf of the rotated CA, with both CAs in the bundle")
	}

	writes := api.writesTo(caName) + api.writesTo(tlsName)
	for range 5 {
		a.pass(t)
		b.pass(t)
	}
	if got := api.writesTo(caName) + api.writesTo(tlsName); got != writes {
		t.Errorf("%d more writes once settled, want none", got-writes)
	}
	seen := map[apiWrite]bool{}
	api.mu.Lock()
	defer api.mu.Unlock()
	for _, w := range api.writes {
		if seen[w] {
			t.Errorf("secret %s written twice at +%s", w.secret, w.at.Sub(testNow))
		}
		seen[w] = true
	}
	// What one replica would write: both Secrets created; leaves renewed
	// at +2m05 and +4m10; the CA rotated at +6m; its leaf at +6m10.
	if got := len(api.writes); got != 6 {
		t.Errorf("%d writes in all, want 6, as one replica would make", got)
	}
}

// TestTwoKeepersRacingToRenewWriteOnce holds each replica's update until
// both have read the due leaf and decided to renew it: the update at the
// resourceVersion read lets one through, and the other takes its leaf up.
func TestTwoKeepersRacingToRenewWriteOnce(t *testing.T) {
	clock := newTestClock()
	api := newFakeAPI(clock)
	var armed atomic.Bool
	var arrived atomic.Int32
	both := make(chan struct{})
	gated := func() WatchableSecretClient {
		return gatedUpdates{watchable: api.secrets().(watchable), gate: func() {
			if !armed.Load() {
				return
			}
			if arrived.Add(1) == 2 {
				close(both)
			}
			select {
			case <-both:
			case <-time.After(10 * time.Second):
			}
		}}
	}
	a, b := runKeeperOn(t, gated(), shortOptions(clock, nil)), runKeeperOn(t, gated(), shortOptions(clock, nil))
	a.waitLoaded(t)
	b.waitLoaded(t)
	api.waitForWatches(t, 4)
	eventually(t, "both replicas to serve one leaf", func() bool {
		return a.served(t).Equal(b.served(t)) && a.served(t).Equal(storedLeaf(t, api))
	})
	before, writes := a.served(t), api.writesTo(tlsName)

	clock.Add(2*time.Minute + time.Second) // the leaf is due
	armed.Store(true)
	a.poke()
	b.poke()
	eventually(t, "both replicas to serve the renewed leaf", func() bool {
		leaf := storedLeaf(t, api)
		return !leaf.Equal(before) && a.served(t).Equal(leaf) && b.served(t).Equal(leaf)
	})
	if n := arrived.Load(); n != 2 {
		t.Fatalf("%d replicas tried to write, want both (the race did not happen)", n)
	}
	if got := api.writesTo(tlsName) - writes; got != 1 {
		t.Errorf("the serving Secret was written %d times, want once", got)
	}
}

// gatedUpdates calls gate before each update, outside the fake's lock.
type gatedUpdates struct {
	watchable
	gate func()
}

func (g gatedUpdates) Update(ctx context.Context, s *corev1.Secret, o metav1.UpdateOptions) (*corev1.Secret, error) {
	g.gate()
	return g.watchable.Update(ctx, s, o)
}

// TestKeeperRepairsSecrets breaks a Secret under a running Keeper and
// checks the repair, and its one log line.
func TestKeeperRepairsSecrets(t *testing.T) {
	tests := map[string]struct {
		settled     bool // the CA's propagation has ended when the Secret breaks
		damage      func(t *testing.T, api *fakeAPI)
		secret      string
		wantProblem string
		// newCA: a new CA heads the bundle, followed by the old one.
		newCA bool
		// sameLeaf: the leaf in service is kept (and put back in the Secret).
		sameLeaf bool
	}{
		"a deleted serving Secret gets a new leaf": {
			settled: true, damage: deleteSecret(tlsName), secret: tlsName, wantProblem: "deleted",
		},
		"a corrupted serving Secret gets a new leaf": {
			settled: true, damage: corrupt(tlsName, corev1.TLSCertKey), secret: tlsName, wantProblem: "failed to find any PEM data",
		},
		"a serving Secret deleted while a CA propagates gets the leaf in service back": {
			damage: deleteSecret(tlsName), secret: tlsName, wantProblem: "deleted", sameLeaf: true,
		},
		"a deleted CA Secret gets a new CA, the old one kept in the bundle": {
			settled: true, damage: deleteSecret(caName), secret: caName, wantProblem: "deleted", newCA: true, sameLeaf: true,
		},
		"a CA Secret with a corrupted key gets a new CA, the old one kept in the bundle": {
			settled: true, damage: corrupt(caName, corev1.TLSPrivateKeyKey), secret: caName, wantProblem: "parse tls.key", newCA: true, sameLeaf: true,
		},
		"a CA Secret holding a leaf gets a new CA": {
			settled: true, damage: leafAsCA, secret: caName, wantProblem: "not a CA certificate", newCA: true, sameLeaf: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			clock := newTestClock()
			api := newFakeAPI(clock)
			core, logs := observer.New(zap.InfoLevel)
			h := startKeeper(t, api, shortOptions(clock, zap.New(core)))
			if tc.settled {
				clock.Add(time.Minute)
				h.pass(t)
			}
			oldCA, oldLeaf := h.bundle()[0], h.served(t)

			tc.damage(t, api)
			eventually(t, "the Secret to be repaired", func() bool { return logs.FilterMessage("recreated secret").Len() > 0 })
			h.pass(t)

			recreated := logs.FilterMessage("recreated secret").AllUntimed()
			if len(recreated) != 1 {
				t.Fatalf("%d \"recreated secret\" log lines, want 1", len(recreated))
			}
			fields := recreated[0].ContextMap()
			if recreated[0].Level != zap.WarnLevel || fields["secret"] != tc.secret ||
				!strings.Contains(fields["problem"].(string), tc.wantProblem) {
				t.Errorf("log line = %s %v, want a warning naming %s and %q", recreated[0].Level, fields, tc.secret, tc.wantProblem)
			}

			bundle, stored := h.bundle(), storedCAs(t, api)
			if !slices.EqualFunc(bundle, stored, (*x509.Certificate).Equal) {
				t.Error("the caBundle served is not the CA Secret's")
			}
			if tc.newCA {
				if len(bundle) != 2 || bundle[0].Equal(oldCA) || !bundle[1].Equal(oldCA) {
					t.Errorf("caBundle holds %d certificates, want a new CA, then the old", len(bundle))
				}
			} else if len(bundle) != 1 || !bundle[0].Equal(oldCA) {
				t.Error("the CA changed")
			}
			leaf := h.served(t)
			if leaf.Equal(oldLeaf) != tc.sameLeaf {
				t.Errorf("leaf in service kept = %v, want %v", leaf.Equal(oldLeaf), tc.sameLeaf)
			}
			if !leaf.Equal(storedLeaf(t, api)) {
				t.Error("the leaf served is not the serving Secret's")
			}
			if tc.newCA {
				// After the delay the new CA's leaf replaces the old one.
				clock.Add(10 * time.Second)
				h.pass(t)
				if !signedBy(h.served(t), h.bundle()[0]) {
					t.Error("after the propagation delay the leaf is not the new CA's")
				}
			}
		})
	}
}

func deleteSecret(name string) func(*testing.T, *fakeAPI) {
	return func(t *testing.T, api *fakeAPI) {
		if err := api.CoreV1().Secrets(testNS).Delete(t.Context(), name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// corrupt overwrites one key of the named Secret through the API, as a
// person with kubectl edit would.
func corrupt(name, key string) func(*testing.T, *fakeAPI) {
	return func(t *testing.T, api *fakeAPI) {
		edit(t, api, name, func(s *corev1.Secret) { s.Data[key] = []byte("corrupted") })
	}
}

func leafAsCA(t *testing.T, api *fakeAPI) {
	leaf := getSecret(t, api.Clientset, tlsName)
	edit(t, api, caName, func(s *corev1.Secret) { s.Data = leaf.DeepCopy().Data })
}

func edit(t *testing.T, api *fakeAPI, name string, change func(*corev1.Secret)) {
	t.Helper()
	s := getSecret(t, api.Clientset, name).DeepCopy()
	change(s)
	if _, err := api.CoreV1().Secrets(testNS).Update(t.Context(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestKeeperServesWhatAnotherReplicaWrote writes the serving Secret as
// another replica would, and checks which leaves are taken up.
func TestKeeperServesWhatAnotherReplicaWrote(t *testing.T) {
	sans := []string{testSvcName}
	tests := map[string]struct {
		otherCA   bool // signed by a CA not in the bundle
		spec      leafSpec
		wantTaken bool
	}{
		"a valid leaf of the CA is served":            {spec: validLeafSpec(sans...), wantTaken: true},
		"a leaf of another CA is replaced":            {otherCA: true, spec: validLeafSpec(sans...)},
		"a leaf lacking the service name is replaced": {spec: validLeafSpec("localhost")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			clock := newTestClock()
			api := newFakeAPI(clock)
			h := startKeeper(t, api, Options{Namespace: testNS, Now: clock.Now})
			clock.Add(2 * time.Minute) // past the CA's propagation: replacements are issued
			h.pass(t)
			issuer := keeperCA(t, api)
			if tc.otherCA {
				issuer = newDynamiclistenerCA(t, testNow.Add(-day))
			}
			theirs, certPEM, keyPEM := issuer.issue(t, tc.spec)
			writes := api.writesTo(tlsName)

			edit(t, api, tlsName, func(s *corev1.Secret) {
				s.Data = map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}
			})
			if tc.wantTaken {
				eventually(t, "the other replica's leaf to be served", func() bool { return h.served(t).Equal(theirs) })
				h.pass(t)
				if got := api.writesTo(tlsName) - writes; got != 1 || !storedLeaf(t, api).Equal(theirs) {
					t.Errorf("%d writes after the other replica's, want only theirs", got-1)
				}
				return
			}
			eventually(t, "the leaf to be replaced", func() bool { return api.writesTo(tlsName) > writes+1 })
			h.pass(t) // the replacing pass publishes after it writes
			if leaf := h.served(t); leaf.Equal(theirs) || !leaf.Equal(storedLeaf(t, api)) {
				t.Error("an unusable leaf was served, or the replacement is not the stored one")
			}
		})
	}
}

// keeperCA returns the CA of the CA Secret with its key, to sign leaves
// as another replica would.
func keeperCA(t *testing.T, api *fakeAPI) *testCA {
	t.Helper()
	s := getSecret(t, api.Clientset, caName)
	ca, err := parseAuthority(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: ca.cert, key: ca.key.(*ecdsa.PrivateKey)}
}

func TestKeeperStatus(t *testing.T) {
	clock := newTestClock()
	api := newFakeAPI(clock)
	k, err := NewKeeper(api.secrets(), shortOptions(clock, nil))
	if err != nil {
		t.Fatal(err)
	}
	if s := k.Status(); s.Loaded || s.Valid || s.Reason == "" {
		t.Errorf("Status before loading = %+v, want not loaded, not valid, with a reason", s)
	}
	if err := k.sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	s := k.Status()
	leaf, ca := storedLeaf(t, api), storedCAs(t, api)[0]
	if !s.Loaded || !s.Valid || !s.LeafNotAfter.Equal(leaf.NotAfter) || !s.LeafNotBefore.Equal(leaf.NotBefore) || !s.CANotAfter.Equal(ca.NotAfter) {
		t.Errorf("Status = %+v, want loaded, valid, leaf until %s, CA until %s", s, leaf.NotAfter, ca.NotAfter)
	}
	// No pass runs: the Status reads the clock itself.
	clock.Add(3 * time.Minute)
	if s := k.Status(); s.Valid || !strings.Contains(s.Reason, "expired at") {
		t.Errorf("Status past the leaf's expiry = %+v, want not valid, expired", s)
	}
}

func TestKeeperRetriesTheFirstLoad(t *testing.T) {
	clock := newTestClock()
	api := newFakeAPI(clock)
	refusals := 2 // touched only by the Keeper's goroutine, through Get
	api.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		if refusals == 0 {
			return false, nil, nil
		}
		refusals--
		return true, nil, apierrors.NewForbidden(secretsResource.GroupResource(), caName, nil)
	})
	core, logs := observer.New(zap.WarnLevel)
	h := runKeeper(t, api, shortOptions(clock, zap.New(core)))

	eventually(t, "the first pass to fail", func() bool { return h.passes() == 1 })
	h.pass(t)
	select {
	case <-h.Loaded():
		t.Fatal("Loaded after a failed pass")
	default:
	}
	h.pass(t)
	select {
	case <-h.Loaded():
	default:
		t.Fatal("not Loaded after a successful pass")
	}
	if got := h.waited(); !slices.Equal(got[:2], []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("waits = %v, want a backoff of 1s then 2s", got)
	}
	failures := logs.FilterMessage("failed to check the certificates, retrying").AllUntimed()
	if len(failures) != 2 || !strings.Contains(failures[0].ContextMap()["error"].(string), "get secret "+caName) {
		t.Errorf("warnings = %v, want 2 naming the Secret", failures)
	}
}

func TestKeeperRunsOnce(t *testing.T) {
	h := startKeeper(t, newFakeAPI(newTestClock()), shortOptions(newTestClock(), nil))
	if err := h.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "called twice") {
		t.Errorf("second Run = %v, want an error", err)
	}
}
