package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/lowmem/harvester-network-webhook/admission"
	"github.com/lowmem/harvester-network-webhook/certs"
	"github.com/lowmem/harvester-network-webhook/informers"
)

// shutdownGrace bounds how long in-flight reviews may finish on shutdown;
// the API server gives up on a webhook after 10 s anyway.
const shutdownGrace = 10 * time.Second

// run serves until ctx is cancelled or a server fails. The health port
// answers from the start; admission starts once the rule set is chosen and
// the caches have synced.
//
// ctx ends at the first signal. Everything runs on work, which ends a drain
// period later: meanwhile /readyz fails, so the endpoints controller takes
// the pod out of the Service, while the reviews the API server still sends
// here are answered. Then the servers finish what is in flight and stop.
func run(ctx context.Context, cfg *config, log *zap.Logger) error {
	restCfg, err := restConfig(cfg.Kubeconfig)
	if err != nil {
		return err
	}
	restCfg.UserAgent = admission.Name
	clients, err := newClients(restCfg, cfg.Namespace)
	if err != nil {
		return err
	}
	log.Info("starting harvester-network-webhook", zap.String("harvesterVersion", cfg.versionName()), zap.Bool("audit", cfg.Audit),
		zap.String("namespace", cfg.Namespace), zap.Int("httpsPort", cfg.HTTPSPort), zap.Int("healthPort", cfg.HealthPort))

	state := &runState{}
	metrics := newMetrics(state)
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	go drain(ctx, work, stopWork, cfg.ShutdownDrain, state, log)

	g, work := errgroup.WithContext(work)
	if cfg.HealthPort != 0 {
		health := &http.Server{Addr: ":" + strconv.Itoa(cfg.HealthPort), Handler: healthHandler(state, metrics, cfg.Profiling), ReadHeaderTimeout: 10 * time.Second}
		g.Go(func() error { return serve(work, health, nil, log) })
	}
	g.Go(func() error {
		rules, err := chooseRules(work, cfg, restCfg, clients, log)
		if err != nil {
			return err
		}
		state.rules.Store(&rules)
		metrics.setRules(rules)
		return watchAndAdmit(work, cfg, rules.version, clients, restCfg, state, metrics, log)
	})
	return g.Wait()
}

// drain ends work d after ctx ends, with /readyz failing meanwhile; at once
// if the webhook was not serving yet.
func drain(ctx, work context.Context, stopWork context.CancelFunc, d time.Duration, state *runState, log *zap.Logger) {
	select {
	case <-ctx.Done():
	case <-work.Done():
		return
	}
	state.draining.Store(true)
	if state.listening.Load() && d > 0 {
		log.Info("shutting down: unready, still answering reviews", zap.Duration("for", d))
		select {
		case <-time.After(d):
		case <-work.Done():
		}
	}
	log.Info("shutting down: finishing the reviews in flight")
	stopWork()
}

// watchAndAdmit starts the informers of the rule set's kinds and admits.
func watchAndAdmit(ctx context.Context, cfg *config, version admission.Version, clients *clientSet, restCfg *rest.Config,
	state *runState, metrics *webhookMetrics, log *zap.Logger) error {
	kinds, watchKubeOVN := informers.KindsFor(int(version))
	inf, err := informers.New(informers.Config{
		Metadata: clients.metadata, Dynamic: clients.dynamic, REST: restCfg, LRUBytes: cfg.LRUBytes, Logger: log.Named("informers"),
		Kinds: kinds, WatchKubeOVN: watchKubeOVN, WatchFailureGrace: cfg.WatchFailureGrace, Fetches: metrics,
	})
	if err != nil {
		return err
	}
	// kube-ovn coming or going changes the webhook configurations' rules.
	kubeOVNChanged := make(chan struct{}, 1)
	inf.OnKubeOVNChange(func(enabled bool) {
		// The informers log the change itself; this call also comes once
		// more when the kube-ovn caches have synced.
		log.Debug("kube-ovn state changed: re-applying the webhook configurations", zap.Bool("enabled", enabled))
		select {
		case kubeOVNChanged <- struct{}{}:
		default:
		}
	})
	inf.Start(ctx)
	state.informers.Store(inf)
	profile := admission.Profile{Version: version, ControllerUser: cfg.ControllerUser}
	return admit(ctx, cfg, profile, clients, inf, state, metrics, kubeOVNChanged, log)
}

// admit keeps the certificates, waits for them and the caches, listens, and
// only then registers the webhook configurations, so the API server never
// calls a webhook that cannot answer correctly yet.
func admit(ctx context.Context, cfg *config, profile admission.Profile, clients *clientSet,
	inf *informers.Informers, state *runState, metrics *webhookMetrics, kubeOVNChanged <-chan struct{}, log *zap.Logger) error {
	began := time.Now()
	certOpts := certs.Options{Namespace: cfg.Namespace, ServiceName: cfg.Service, Logger: log.Named("certs"),
		CAValidity: cfg.CAValidity, LeafValidity: cfg.CertValidity, RenewFraction: cfg.CertRenewFraction, PropagationDelay: cfg.CAPropagationDelay}
	if cfg.WebhookURL != "" {
		u, _ := url.Parse(cfg.WebhookURL) // validated by parseConfig
		certOpts.ExtraSANs = []string{u.Hostname()}
	}
	keeper, err := certs.NewKeeper(clients.secrets, certOpts)
	if err != nil {
		return err
	}
	caChanged := keeper.WatchCABundle() // before the first CABundle read
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return keeper.Run(ctx) })
	g.Go(func() error {
		select {
		case <-keeper.Loaded():
		case <-ctx.Done():
			return nil
		}
		state.certs.Store(keeper)
		if err := inf.WaitForSync(ctx); err != nil {
			return fmt.Errorf("wait for informers to sync: %w", err)
		}
		log.Info("caches synced", zap.Duration("after", time.Since(began)))

		ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.HTTPSPort))
		if err != nil {
			return fmt.Errorf("listen on the HTTPS port: %w", err)
		}
		srv := admission.NewServer(admission.Config{Profile: profile, Store: inf, Logger: log.Named("admission"), Recorder: metrics, Audit: cfg.Audit})
		state.server.Store(srv)
		router := chi.NewRouter()
		srv.Routes(router)
		https := newHTTPSServer(router)
		tlsConfig, err := withClientCAs(keeper.TLSConfig(), cfg.ClientCAFile)
		if err != nil {
			return err
		}
		state.listening.Store(true)
		g.Go(func() error { return serve(ctx, https, tls.NewListener(ln, tlsConfig), log) })

		reg := &registrar{vwc: clients.vwc, mwc: clients.mwc, profile: profile, client: admission.ClientConfig{
			Namespace: cfg.Namespace, Service: cfg.Service, URL: cfg.WebhookURL, Audit: cfg.Audit,
		}, caBundle: keeper.CABundle, kubeOVN: inf.KubeOVNEnabled, changed: merge(ctx, kubeOVNChanged, caChanged),
			log: log.Named("registration"), registered: &state.registered}
		return reg.run(ctx)
	})
	return g.Wait()
}

// merge forwards a signal from any of ins to the returned channel, coalesced.
func merge(ctx context.Context, ins ...<-chan struct{}) <-chan struct{} {
	out := make(chan struct{}, 1)
	for _, in := range ins {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-in:
				}
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}()
	}
	return out
}

// serve runs srv until ctx ends, then shuts it down gracefully.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, log *zap.Logger) error {
	errc := make(chan error, 1)
	go func() {
		if ln != nil {
			errc <- srv.Serve(ln)
		} else {
			errc <- srv.ListenAndServe()
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("server %s: %w", srv.Addr, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("graceful shutdown failed", zap.Error(err))
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// retry calls f until it succeeds or ctx ends, backing off to 30 s: an API
// server that is briefly unreachable at start must not crash-loop the pod.
func retry[T any](ctx context.Context, log *zap.Logger, what string, f func() (T, error)) (T, error) {
	delay := time.Second
	for {
		v, err := f()
		if err == nil {
			return v, nil
		}
		log.Warn("failed to "+what+", retrying", zap.Error(err), zap.Duration("in", delay))
		select {
		case <-ctx.Done():
			var zero T
			return zero, fmt.Errorf("%s: %w", what, err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("no --kubeconfig or KUBECONFIG given and not running in a cluster: %w", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
	}
	return cfg, nil
}
