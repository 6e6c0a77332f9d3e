package main

import (
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/lowmem/harvester-network-webhook/admission"
	"github.com/lowmem/harvester-network-webhook/certs"
	"github.com/lowmem/harvester-network-webhook/informers"
)

// runState is what the running parts publish for /readyz and /metrics.
// The rule set, the informers, the certificate and the admission server are
// set once they exist.
type runState struct {
	rules      atomic.Pointer[ruleSet]
	informers  atomic.Pointer[informers.Informers]
	server     atomic.Pointer[admission.Server]
	certs      atomic.Pointer[certs.Keeper]
	listening  atomic.Bool // the HTTPS listener is open
	registered atomic.Bool
	draining   atomic.Bool // shutting down: out of the Service, still serving
}

// check returns why the webhook cannot answer correctly now, or nil.
func (r *runState) check() error {
	if r.draining.Load() {
		return errors.New("shutting down")
	}
	inf := r.informers.Load()
	if inf == nil {
		return errors.New("choosing the Harvester rule set")
	}
	if err := inf.Ready(); err != nil {
		return err
	}
	k := r.certs.Load()
	if k == nil {
		return errors.New("serving certificate not loaded yet")
	}
	if st := k.Status(); !st.Valid {
		return errors.New(st.Reason)
	}
	if !r.listening.Load() {
		return errors.New("HTTPS listener not open yet")
	}
	return nil
}

// healthHandler serves the probes and /metrics, and pprof (with expvar) when
// profiling: opt-in, as the port is plain HTTP without authentication.
func healthHandler(state *runState, m *webhookMetrics, profiling bool) http.Handler {
	r := chi.NewRouter()
	if profiling {
		r.Mount("/debug", middleware.Profiler())
	}
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	r.Get("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		code, msg := http.StatusOK, "ok\n"
		if err := state.check(); err != nil {
			code, msg = http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n"
		} else if !state.registered.Load() {
			msg = "ok (webhook configurations not registered yet)\n"
		}
		if rules := state.rules.Load(); rules != nil {
			msg += "rules: " + rules.String() + "\n"
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(msg))
	})
	// Uncompressed: a scrape is a few KiB.
	r.Handle("/metrics", m.registry)
	return r
}
