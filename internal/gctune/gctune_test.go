package gctune

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

func TestPercentPutsTheGoalAtLivePlusHeadroom(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, headroom uint64
		want           int
	}{
		{live: 4 * mib, headroom: 16 * mib, want: 400}, // goal 20 MiB
		{live: 5 * mib, headroom: 16 * mib, want: 320}, // goal 21 MiB
		{live: 16 * mib, headroom: 16 * mib, want: 100},
		{live: 40 * mib, headroom: 16 * mib, want: 100}, // never below Go's default
		// Below 4 MiB live, the runtime's minimum goal (4 MiB at 100)
		// reaches the headroom first: 400 gives a 16 MiB goal.
		{live: 3 * mib, headroom: 16 * mib, want: 400},
		{live: 0, headroom: 16 * mib, want: 400},
		{live: 1 << 10, headroom: 16 * mib, want: 400},
		{live: 0, headroom: 64 * mib, want: 1600},
		{live: 0, headroom: 1 * mib, want: 100},
		{live: 10 * mib, headroom: 1 * mib, want: 100},
	} {
		if got := Percent(c.live, c.headroom); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, c.headroom, got, c.want)
		}
	}
}

func TestStartSetsThePercentAndRestoresIt(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	ctx, cancel := context.WithCancel(context.Background())
	// A headroom far above any test's live heap: the percent is the cap.
	const headroom = 1 << 40
	done := Start(ctx, headroom)
	if got, want := gogc(), Percent(0, headroom); got != want {
		t.Errorf("after Start: GOGC %d, want %d", got, want)
	}
	cancel()
	<-done
	if got := gogc(); got != 100 {
		t.Errorf("after the end: GOGC %d, want the 100 it found", got)
	}
}

func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}
