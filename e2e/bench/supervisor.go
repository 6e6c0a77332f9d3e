package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// Restart back-off as the kubelet's CrashLoopBackOff doubles it, but from
// 1 s and capped at 32 s instead of 10 s and 5 min so that a bench run of a
// few minutes still sees the webhook come back.
const (
	backoffFirst = time.Second
	backoffMax   = 32 * time.Second
)

// supervisor keeps a webhook running as the kubelet does: when the process
// ends (OOM-killed, crashed) it starts it again on the same ports after an
// exponential back-off. It is a process whose methods act on the current
// incarnation; Exited closes only after Stop.
type supervisor struct {
	start    func(ctx context.Context) (process, error)
	cancel   context.CancelFunc
	done     chan struct{}
	mu       sync.Mutex
	cur      process
	restarts int
}

// supervise starts the first incarnation in the background: a start that
// fails (e.g. killed before it is ready) is retried like any exit, and the
// caller waits for an answer as a client would.
func supervise(ctx context.Context, start func(ctx context.Context) (process, error)) *supervisor {
	ctx, cancel := context.WithCancel(ctx)
	s := &supervisor{start: start, cancel: cancel, done: make(chan struct{})}
	go s.loop(ctx)
	return s
}

func (s *supervisor) loop(ctx context.Context) {
	defer close(s.done)
	backoff := backoffFirst
	for first := true; ; first = false {
		if !first {
			s.mu.Lock()
			s.restarts++
			s.mu.Unlock()
		}
		p, err := s.start(ctx)
		if err != nil {
			logf("webhook start failed: %v", firstLine(err))
		} else {
			s.mu.Lock()
			s.cur = p
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				_ = p.Stop()
				return
			case <-p.Exited():
				logf("webhook exited; restarting in %s", backoff)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, backoffMax)
	}
}

func firstLine(err error) string {
	s := err.Error()
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}

// Restarts is the number of times the process was started again.
func (s *supervisor) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

func (s *supervisor) current() process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

var errNotRunning = errors.New("the webhook is not running")

func (s *supervisor) Pid() int {
	if p := s.current(); p != nil {
		return p.Pid()
	}
	return 0
}

func (s *supervisor) Logs() string {
	if p := s.current(); p != nil {
		return p.Logs()
	}
	return ""
}

func (s *supervisor) Exited() <-chan struct{} { return s.done }

// Stop stops the current incarnation and waits until no other is started.
func (s *supervisor) Stop() error {
	s.cancel()
	<-s.done
	return nil
}

func (s *supervisor) Memory() (harness.Memory, error) {
	if p := s.current(); p != nil {
		return p.Memory()
	}
	return harness.Memory{}, errNotRunning
}

func (s *supervisor) Metric(name string) (float64, error) {
	if p := s.current(); p != nil {
		return p.Metric(name)
	}
	return 0, errNotRunning
}

func (s *supervisor) HealthURL() string {
	if p := s.current(); p != nil {
		return p.HealthURL()
	}
	return ""
}
