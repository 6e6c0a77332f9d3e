package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/lowmem/harvester-network-webhook/internal/byname"
)

// Bounds of the wait between two passes, whatever the renewal windows.
const (
	minCheckInterval = time.Second
	maxCheckInterval = time.Minute
)

// Keeper keeps the CA and serving Secrets right for as long as it runs, and
// serves what they hold: the leaf through GetCertificate, the CA Secret's
// tls.crt through CABundle. Build it with NewKeeper and call Run once.
type Keeper struct {
	opts    Options
	secrets SecretClient
	bundle  Bundle

	// informers watch each Secret by name. Passes read their caches and
	// wake on their events. Nil in Ensure, which reads live.
	informers map[string]cache.SharedIndexInformer
	// after is time.After; tests drive it.
	after   func(time.Duration) <-chan time.Time
	wake    chan struct{}
	running atomic.Bool

	loaded     chan struct{}
	loadedOnce sync.Once

	mu          sync.Mutex
	subscribers []chan struct{}
}

// NewKeeper returns a Keeper of the two Secrets in opts.Namespace; secrets
// must be a client for that namespace. It checks opts and makes no API
// call.
func NewKeeper(secrets WatchableSecretClient, opts Options) (*Keeper, error) {
	k, err := newKeeper(secrets, opts)
	if err != nil {
		return nil, err
	}
	k.informers = map[string]cache.SharedIndexInformer{}
	for _, name := range []string{k.opts.CASecretName(), k.opts.TLSSecretName()} {
		if k.informers[name], err = k.newInformer(secrets, name); err != nil {
			return nil, fmt.Errorf("certs: informer for secret %s: %w", name, err)
		}
	}
	return k, nil
}

func newKeeper(secrets SecretClient, opts Options) (*Keeper, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &Keeper{
		opts:    opts,
		secrets: secrets,
		after:   time.After,
		wake:    make(chan struct{}, 1),
		loaded:  make(chan struct{}),
	}, nil
}

// newInformer lists and watches the one Secret called name: the field
// selector keeps every other Secret out of the process, and the API server
// can authorise the list and watch by resourceNames.
func (k *Keeper) newInformer(secrets WatchableSecretClient, name string) (cache.SharedIndexInformer, error) {
	lw := byname.ListWatch[*corev1.SecretList](secrets, name)
	inf := cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, secrets), &corev1.Secret{}, 0, cache.Indexers{})
	if _, err := inf.AddEventHandler(byname.OnChange(k.poke)); err != nil {
		return nil, err
	}
	if err := inf.SetWatchErrorHandlerWithContext(k.watchErrorHandler(name)); err != nil {
		return nil, err
	}
	return inf, nil
}

// watchErrorHandler logs a failing list or watch once per distinct error:
// the reflector retries with backoff, and meanwhile passes read a cache that
// may be stale, though writes still read live.
func (k *Keeper) watchErrorHandler(name string) cache.WatchErrorHandlerWithContext {
	log := k.opts.Logger.With(zap.String("secret", name))
	var last string // the reflector calls this from one goroutine
	return func(_ context.Context, _ *cache.Reflector, err error) {
		if errors.Is(err, io.EOF) || apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			log.Debug("watch closed", zap.Error(err))
			return
		}
		if msg := err.Error(); msg != last {
			last = msg
			log.Warn("cannot list or watch secret", zap.Error(err))
			return
		}
		log.Debug("cannot list or watch secret", zap.Error(err))
	}
}

// Run loads both Secrets, creating or repairing them, then keeps them right
// until ctx ends, and returns nil then. It runs the two informers and one
// loop in the calling goroutine, and returns only after they have stopped.
//
// A pass runs at once, on every change of either Secret, and at least every
// minute: a tenth of the shorter renewal window, or sooner when a deadline
// (renewal, the end of a CA's propagation, an expiry) comes first, never
// more often than every second. A failed pass, the first one included, is
// logged and retried with backoff from 1 s to 1 min; Loaded is closed after
// the first pass succeeds.
func (k *Keeper) Run(ctx context.Context) error {
	if !k.running.CompareAndSwap(false, true) {
		return errors.New("certs: Keeper.Run called twice")
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, inf := range k.informers {
		wg.Go(func() { inf.RunWithContext(ctx) })
	}
	backoff := minCheckInterval
	for {
		wait := backoff
		if err := k.sync(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			k.opts.Logger.Warn("failed to check the certificates, retrying", zap.Error(err), zap.Duration("in", wait))
			backoff = min(2*backoff, maxCheckInterval)
		} else {
			k.loadedOnce.Do(func() { close(k.loaded) })
			backoff = minCheckInterval
			wait = k.checkAfter(k.opts.Now())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-k.wake:
		case <-k.after(wait):
		}
	}
}

// checkAfter is the wait before the next pass when the last one succeeded.
func (k *Keeper) checkAfter(now time.Time) time.Duration {
	wait := min(k.opts.leafWindow(), k.opts.caWindow()) / 10
	if m := k.bundle.load(); m != nil {
		if next := nextDeadline(m, k.opts, now); !next.IsZero() {
			wait = min(wait, next.Sub(now))
		}
	}
	return min(max(wait, minCheckInterval), maxCheckInterval)
}

func (k *Keeper) poke() {
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// read returns the named Secret, or nil if it is absent. Unless live is
// set, it reads the informer's cache once that has synced; fromCache says
// whether it did.
func (k *Keeper) read(ctx context.Context, name string, live bool) (s *corev1.Secret, fromCache bool, err error) {
	if inf := k.informers[name]; !live && inf != nil && inf.HasSynced() {
		obj, _, err := inf.GetStore().GetByKey(k.opts.Namespace + "/" + name)
		if err != nil {
			return nil, false, fmt.Errorf("read secret %s from the cache: %w", name, err)
		}
		s, _ = obj.(*corev1.Secret) // nil when absent
		return s, true, nil
	}
	s, err = k.secrets.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("get secret %s: %w", name, err)
	}
	return s, false, nil
}

// Loaded is closed once the first pass has succeeded: from then on
// GetCertificate serves and CABundle is not empty.
func (k *Keeper) Loaded() <-chan struct{} { return k.loaded }

// GetCertificate serves the current leaf; see Bundle.GetCertificate.
func (k *Keeper) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return k.bundle.GetCertificate(hello)
}

// TLSConfig returns the server TLS configuration (see the TLSConfig
// function) serving the current leaf: a renewal needs no restart and drops
// no connection.
func (k *Keeper) TLSConfig() *tls.Config { return tlsConfig(&k.bundle) }

// CABundle returns the caBundle for the webhook configurations: the CA
// Secret's tls.crt as last read, current CA first. It is nil until Loaded.
// The caller must not modify it.
func (k *Keeper) CABundle() []byte { return k.bundle.CAPEM() }

// WatchCABundle returns a channel that receives a value after CABundle
// changes. Values coalesce: a receiver that falls behind gets one, then
// reads CABundle for the latest. Subscribe before the first read of
// CABundle to miss no change. The channel is never closed.
func (k *Keeper) WatchCABundle() <-chan struct{} {
	ch := make(chan struct{}, 1)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.subscribers = append(k.subscribers, ch)
	return ch
}

func (k *Keeper) notify() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, ch := range k.subscribers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Status is what the Keeper serves, for metrics and readiness.
type Status struct {
	// Loaded is false until the first pass has succeeded.
	Loaded bool
	// LeafNotAfter is when the leaf being served expires, and
	// LeafNotBefore when it became valid.
	LeafNotBefore, LeafNotAfter time.Time
	// CANotAfter is when the current CA (the first of the caBundle)
	// expires.
	CANotAfter time.Time
	// Valid reports whether the leaf being served is within its validity
	// now; Reason says why not.
	Valid  bool
	Reason string
}

// Status reports what is served now, by Options.Now.
func (k *Keeper) Status() Status {
	m := k.bundle.load()
	if m == nil {
		return Status{Reason: "no serving certificate loaded yet"}
	}
	leaf := m.cert.Leaf
	s := Status{Loaded: true, LeafNotBefore: leaf.NotBefore, LeafNotAfter: leaf.NotAfter, CANotAfter: m.caCerts[0].NotAfter}
	switch now := k.opts.Now(); {
	case now.Before(leaf.NotBefore):
		s.Reason = "serving certificate not valid before " + leaf.NotBefore.UTC().Format(time.RFC3339)
	case !now.Before(leaf.NotAfter):
		s.Reason = "serving certificate expired at " + leaf.NotAfter.UTC().Format(time.RFC3339)
	default:
		s.Valid = true
	}
	return s
}
