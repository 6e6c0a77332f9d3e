package admission

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWorkersRunAtMostTheirNumberAtOnce(t *testing.T) {
	w := newWorkers(2)
	var running, most atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			ok := w.do(t.Context(), func() {
				n := running.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(time.Millisecond)
				running.Add(-1)
			})
			if !ok {
				t.Error("a job was not run")
			}
		})
	}
	wg.Wait()
	if m := most.Load(); m != 2 {
		t.Errorf("at most %d jobs ran at once, want 2", m)
	}
}

func TestWorkersGiveUpAtTheDeadline(t *testing.T) {
	w := newWorkers(1)
	release := make(chan struct{})
	go w.do(t.Context(), func() { <-release })
	for len(w.slots) == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	ran := false
	if w.do(ctx, func() { ran = true }) || ran {
		t.Error("a job ran while the only worker was busy past its deadline")
	}
	close(release)
	if !w.do(t.Context(), func() { ran = true }) || !ran {
		t.Error("the freed worker did not run the next job")
	}
}

func TestWorkersRaiseAPanicInTheCaller(t *testing.T) {
	w := newWorkers(1)
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the job's panic", p)
			}
		}()
		w.do(t.Context(), func() { panic("boom") })
		t.Error("do returned after a panic")
	}()
	// The worker survived, or a new one starts: the next job runs.
	if ran := false; !w.do(t.Context(), func() { ran = true }) || !ran {
		t.Error("no job ran after a panic")
	}
}

func TestIdleWorkersExit(t *testing.T) {
	w := newWorkers(4)
	w.idle = 10 * time.Millisecond
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { w.do(t.Context(), func() { time.Sleep(5 * time.Millisecond) }) })
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for len(w.slots) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(w.slots); n != 0 {
		t.Errorf("%d workers still running after their idle time", n)
	}
}
