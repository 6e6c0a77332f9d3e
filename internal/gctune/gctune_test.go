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
		{live: 3 * mib, headroom: 16 * mib, want: 533},
		{live: 16 * mib, headroom: 16 * mib, want: 100},
		{live: 40 * mib, headroom: 16 * mib, want: 100}, // never below Go's default
		{live: 0, headroom: 16 * mib, want: maxPercent},
		{live: 1 << 10, headroom: 16 * mib, want: maxPercent},
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
	// A headroom far above any live heap: the percent is the cap.
	done := Start(ctx, 1<<50)
	if got := gogc(); got != maxPercent {
		t.Errorf("after Start: GOGC %d, want %d", got, maxPercent)
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
