// Package gctune keeps the garbage collector's heap goal a fixed headroom
// above the live heap while the live heap is small.
//
// With GOGC=100 the goal is twice the live heap. The webhook's live heap is
// a few MiB of caches that every cycle marks again, and every review
// allocates some KiB, so at a few thousand reviews a second a cycle ran
// every few hundred reviews and the marking cost more CPU than deciding
// them. A goal of the live heap plus a headroom makes cycles rarer by the
// headroom's ratio to the live heap, for a bounded amount of memory; once
// the live heap passes the headroom, GOGC is 100 again. A GOMEMLIMIT still
// caps the goal, as the runtime applies both.
package gctune

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// DefaultHeadroom is the heap the collector lets grow above the live heap
// before it runs, at the least.
const DefaultHeadroom = 16 << 20

// Interval is how often the live heap is read. It changes with the caches,
// slowly; a stale percent for a second costs nothing.
const Interval = time.Second

// heapMinimum is the runtime's smallest heap goal at GOGC=100; it scales
// with GOGC.
const heapMinimum = 4 << 20

// Percent is the GOGC that puts the heap goal at live+headroom, or at twice
// live, whichever is larger. The runtime's minimum goal scales with GOGC,
// so the percent stops where that minimum reaches the headroom: with a live
// heap near zero (at start, before any collection) the goal is the
// headroom, not a hundred times it.
func Percent(live, headroom uint64) int {
	most := max(100, headroom*100/heapMinimum)
	if live == 0 || headroom/live >= most/100 {
		return int(most)
	}
	return int(max(100, headroom*100/live))
}

// Start sets GOGC from the live heap now and then every Interval until
// ctx ends, when it restores the GOGC it found and closes the returned
// channel. Call it only when the operator has not set GOGC: theirs wins.
func Start(ctx context.Context, headroom uint64) <-chan struct{} {
	set := Percent(liveHeap(), headroom)
	initial := debug.SetGCPercent(set)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer debug.SetGCPercent(initial)
		tick := time.NewTicker(Interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// Setting the percent recomputes the pacer's goal; skip it
			// when nothing moved.
			if p := Percent(liveHeap(), headroom); p != set {
				debug.SetGCPercent(p)
				set = p
			}
		}
	}()
	return done
}

// liveHeap is the heap the last collection found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
