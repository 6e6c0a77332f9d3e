package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/lowmem/harvester-network-webhook/e2e/harness"
)

// apiPhase runs op through the API server with cfg.apiClients clients for
// cfg.duration, the expected answer being the first one (learn). began is
// called as the phase starts, after learning; clock reads the webhook's CPU.
func apiPhase(ctx context.Context, cfg config, c *harness.Client, op operation, clock func() cpuReading, began func()) (Latency, error) {
	want, err := learn(ctx, op.api(c, -1))
	if err != nil {
		return Latency{}, fmt.Errorf("API server %s: %w", op.name, err)
	}
	logf("API server %s (%s) with %d clients for %s", op.name, want, cfg.apiClients, cfg.duration)
	began()
	l := withCPU(clock, func() Latency {
		return hammer(ctx, op.name, "apiserver", cfg.apiClients, cfg.duration, func(i int) call {
			return checked(want, op.api(c, i))
		})
	})
	l.Decision = want.String()
	return l, nil
}

// errNotOurs: the webhook of -api-only runs elsewhere (in a pod), so its CPU
// is not read here.
var errNotOurs = errors.New("the webhook is not a process of this bench")

// measureRegistered is -api-only: the webhook already serves the cluster,
// registered by its chart (e2e/cluster/chart-bench.sh measures its memory
// on the node), and only the admissions through the API server are
// measured, as the last phases of a full run are.
func measureRegistered(ctx context.Context, cfg config, s Scenario, c *harness.Client) error {
	if err := harness.WaitAdmitting(ctx, c, harness.WebhookNamespace); err != nil {
		return err
	}
	ops, err := operations(ctx, c)
	if err != nil {
		return err
	}
	rep := &Report{Scenario: s, Binary: "registered in the cluster", Cores: runtime.NumCPU()}
	unknown := func() cpuReading { return cpuReading{err: errNotOurs} }
	for _, op := range ops {
		l, err := apiPhase(ctx, cfg, c, op, unknown, func() {})
		if err != nil {
			return err
		}
		l.PeakRSSBytes = -1
		rep.Latency = append(rep.Latency, l)
	}
	printLatencies(rep)
	return writeReport(cfg.out, rep)
}
