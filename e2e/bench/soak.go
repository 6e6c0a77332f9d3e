package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// Soak is the -soak phase: admission traffic through the API server at a
// fixed rate, the four operations in turn, while the churn runs.
type Soak struct {
	Seconds  float64 `json:"seconds"`
	Rate     int     `json:"rate"`     // requests started per second
	Requests int64   `json:"requests"` // answered as first answered (see learn)
	// Failures are the other requests: another answer, an API error, or no
	// answer within the client's timeout; Skipped ones were not sent, the
	// client already having soakMaxOutstanding requests open.
	Failures     int64        `json:"failures"`
	Skipped      int64        `json:"skipped"`
	FirstFailure string       `json:"first_failure,omitempty"`
	Samples      []SoakSample `json:"samples"`
	Churn        Churn        `json:"churn"`
}

// SoakSample is the state every soakSampleEvery.
type SoakSample struct {
	Seconds       float64 `json:"seconds"`
	Requests      int64   `json:"requests"`
	Failures      int64   `json:"failures"`
	LiveHeapBytes int64   `json:"live_heap_bytes"`
	RSSBytes      int64   `json:"rss_bytes"`
}

const (
	soakSampleEvery = 10 * time.Second
	// soakMaxOutstanding bounds the requests open at once: open-loop load
	// must not pile up without limit if the webhook stalls.
	soakMaxOutstanding = 1000
	soakRequestTimeout = 30 * time.Second
)

// soak sends ops' API-server admissions round-robin, rate a second for d,
// each in its own goroutine so that a slow answer does not lower the rate,
// churns the cluster meanwhile, and samples the counts and the webhook's
// memory every soakSampleEvery.
func soak(ctx context.Context, c *harness.Client, s Scenario, wh process, ops []operation, d time.Duration, rate int) (*Soak, error) {
	calls := make([]call, len(ops))
	for i, op := range ops {
		want, err := learn(ctx, op.api(c, i))
		if err != nil {
			return nil, fmt.Errorf("soak %s: %w", op.name, err)
		}
		calls[i] = checked(want, op.api(c, i))
	}
	out := &Soak{Rate: rate}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var requests, failures, skipped atomic.Int64
	var first sync.Once
	var wg sync.WaitGroup
	churned := make(chan Churn, 1)
	wg.Go(func() { churned <- churn(ctx, c, s, wh, d) })
	slots := make(chan struct{}, soakMaxOutstanding)
	began := time.Now()
	wg.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case slots <- struct{}{}:
			default:
				skipped.Add(1)
				continue
			}
			do := calls[n%len(calls)]
			wg.Go(func() {
				defer func() { <-slots }()
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), soakRequestTimeout)
				defer cancel()
				if err := do(rctx); err != nil {
					failures.Add(1)
					first.Do(func() { out.FirstFailure = err.Error() })
					return
				}
				requests.Add(1)
			})
		}
	})
	tick := time.NewTicker(soakSampleEvery)
	defer tick.Stop()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
			m := memory(wh)
			smp := SoakSample{Seconds: time.Since(began).Seconds(), Requests: requests.Load(), Failures: failures.Load(),
				LiveHeapBytes: m.LiveHeapBytes, RSSBytes: m.RSSBytes}
			out.Samples = append(out.Samples, smp)
			logf("  soak %4.0f s: %d requests, %d failures, live heap %s, rss %s", smp.Seconds, smp.Requests, smp.Failures,
				mib(smp.LiveHeapBytes), mib(smp.RSSBytes))
		case <-wh.Exited():
			return nil, errors.New("the webhook exited during the soak")
		}
	}
	wg.Wait()
	out.Seconds = time.Since(began).Seconds()
	out.Requests, out.Failures, out.Skipped = requests.Load(), failures.Load(), skipped.Load()
	out.Churn = <-churned
	return out, nil
}
