package main

import (
	"errors"
	"math"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

func TestStatCPUReadsUtimeAndStime(t *testing.T) {
	// A command name with a space and a parenthesis; utime 250 and stime
	// 50 ticks.
	line := "4242 (web hook) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50 0 0 20 0 9 0 777 123456 789 18446744073709551615\n"
	got, err := statCPU([]byte(line))
	if err != nil || got != 3 {
		t.Errorf("statCPU = %v, %v; want 3 s", got, err)
	}
	for name, bad := range map[string]string{
		"no command name":    "4242 S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50",
		"cut short":          "4242 (webhook) S 1 4242 4242 0",
		"utime not a number": "4242 (webhook) S 1 4242 4242 0 -1 4194560 1234 0 0 0 x 50 0",
	} {
		if got, err := statCPU([]byte(bad)); err == nil {
			t.Errorf("%s: statCPU = %v, want an error", name, got)
		}
	}
}

func TestCPULimitFilesAsTheKubeletWritesThem(t *testing.T) {
	for _, tc := range []struct {
		milli int64
		v2    bool
		want  []cgroupFile
	}{
		{200, false, []cgroupFile{{"cpu.cfs_period_us", "100000"}, {"cpu.cfs_quota_us", "20000"}}},
		{200, true, []cgroupFile{{"cpu.max", "20000 100000"}}},
		{1500, false, []cgroupFile{{"cpu.cfs_period_us", "100000"}, {"cpu.cfs_quota_us", "150000"}}},
		// The kubelet's smallest quota is 1 ms.
		{1, true, []cgroupFile{{"cpu.max", "1000 100000"}}},
	} {
		if got := cpuLimitFiles(tc.milli, tc.v2); !slices.Equal(got, tc.want) {
			t.Errorf("cpuLimitFiles(%d, v2 %v) = %v, want %v", tc.milli, tc.v2, got, tc.want)
		}
	}
}

func TestQuantityFlags(t *testing.T) {
	for _, tc := range []struct {
		give  string
		value func(*resource.Quantity) int64
		want  int64
		err   bool
	}{
		{"200m", (*resource.Quantity).MilliValue, 200, false},
		{"1.5", (*resource.Quantity).MilliValue, 1500, false},
		{"256Mi", (*resource.Quantity).Value, 256 << 20, false},
		{"", (*resource.Quantity).MilliValue, 0, false},
		{"0", (*resource.Quantity).MilliValue, 0, true},
		{"-100m", (*resource.Quantity).MilliValue, 0, true},
		{"two cores", (*resource.Quantity).MilliValue, 0, true},
	} {
		got, err := quantity("cpu-limit", tc.give, "200m", tc.value)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("quantity(%q) = %d, %v; want %d, error %v", tc.give, got, err, tc.want, tc.err)
		}
	}
}

func TestCPUArithmetic(t *testing.T) {
	at := func(s float64, src int) cpuReading { return cpuReading{seconds: s, source: src} }
	for _, tc := range []struct {
		name     string
		from, to cpuReading
		want     float64
	}{
		{"one cgroup", at(10, 0), at(12.5, 0), 2.5},
		{"one process", at(1, 42), at(1.75, 42), 0.75},
		{"the process restarted", at(9, 42), at(0.5, 43), -1},
		{"a reading failed", at(1, 42), cpuReading{source: 42, err: errNotRunning}, -1},
		{"a counter went back", at(5, 0), at(4, 0), -1},
	} {
		if got := cpuDelta(tc.from, tc.to); got != tc.want {
			t.Errorf("%s: cpuDelta = %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		got  float64
		want float64
	}{
		{"0.5 s over 1000 reviews", microsPer(0.5, 1000), 500},
		{"no reviews", microsPer(0.5, 0), -1},
		{"unknown CPU", microsPer(-1, 1000), -1},
		{"twice the floor", ratio(500, 250), 2},
		{"unknown floor", ratio(500, -1), -1},
		{"unknown ours", ratio(-1, 250), -1},
		{"1 s in 5 s of 2 cores", cpuShare(1, 5, 2), 0.1},
		{"no wall time", cpuShare(1, 0, 2), -1},
	} {
		if math.Abs(tc.got-tc.want) > 1e-9 {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestWithCPUFillsThePhasesCPU(t *testing.T) {
	readings := []cpuReading{{seconds: 3}, {seconds: 3.25}}
	clock := func() cpuReading { r := readings[0]; readings = readings[1:]; return r }
	l := withCPU(clock, func() Latency {
		// Enough work for the bench's own CPU to move.
		for x := 0; x < 3e7; x++ {
			_ = math.Sqrt(float64(x))
		}
		return Latency{Requests: 500}
	})
	if l.CPUSeconds != 0.25 || l.CPUMicrosPerReview != 500 {
		t.Errorf("cpu_seconds %v, cpu_us_per_review %v; want 0.25, 500", l.CPUSeconds, l.CPUMicrosPerReview)
	}
	if l.Seconds <= 0 || l.ClientCPUSeconds <= 0 || l.ClientCPUShare <= 0 || l.ClientCPUShare > 1 {
		t.Errorf("seconds %v, client_cpu_seconds %v, client_cpu_share %v; want all positive, the share at most 1",
			l.Seconds, l.ClientCPUSeconds, l.ClientCPUShare)
	}
	if !errors.Is(cpuClock(nil, func() int { return 0 })().err, errNotRunning) {
		t.Error("a clock without a process reads no CPU")
	}
}
