package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The CFS period the kubelet gives every container, and the smallest quota
// it writes (pkg/kubelet/cm: MilliCPUToQuota).
const (
	cfsPeriodMicros   = 100000
	cfsMinQuotaMicros = 1000
)

// cgroupFile is a value to write into a cgroup's file.
type cgroupFile struct{ name, value string }

// cfsQuota is the CPU time, in µs per period, of a limit of milli
// millicores.
func cfsQuota(milli int64) int64 { return max(milli*cfsPeriodMicros/1000, cfsMinQuotaMicros) }

// cpuLimitFiles are the writes that limit a cgroup to milli millicores, as
// the kubelet applies a container's CPU limit.
func cpuLimitFiles(milli int64, v2 bool) []cgroupFile {
	quota := strconv.FormatInt(cfsQuota(milli), 10)
	period := strconv.Itoa(cfsPeriodMicros)
	if v2 {
		return []cgroupFile{{"cpu.max", quota + " " + period}}
	}
	// The period first: the kernel checks the quota against it.
	return []cgroupFile{{"cpu.cfs_period_us", period}, {"cpu.cfs_quota_us", quota}}
}

// cpuReading is a measured server's cumulative CPU seconds at one moment,
// and whose they are: its cgroup (source 0) or process source.
type cpuReading struct {
	seconds float64
	source  int
	err     error
}

// cpuClock reads a server's CPU: its cgroup's usage when it has one, which
// counts every incarnation of a restarted process, else /proc/<pid>/stat.
func cpuClock(cg *cgroup, pid func() int) func() cpuReading {
	if cg != nil && cg.acct != "" {
		return func() cpuReading {
			s, err := cg.cpuSeconds()
			return cpuReading{seconds: s, err: err}
		}
	}
	return func() cpuReading {
		p := pid()
		s, err := cpuSeconds(p)
		return cpuReading{seconds: s, source: p, err: err}
	}
}

// cpuDelta is the CPU seconds between two readings, or -1 when either
// failed or they are of different processes (restarted in between).
func cpuDelta(from, to cpuReading) float64 {
	if from.err != nil || to.err != nil || from.source != to.source || to.seconds < from.seconds {
		return -1
	}
	return to.seconds - from.seconds
}

// microsPer is seconds in microseconds per request, or -1 when either is
// unknown or there were no requests.
func microsPer(seconds float64, requests int) float64 {
	if seconds < 0 || requests <= 0 {
		return -1
	}
	return seconds * 1e6 / float64(requests)
}

// ratio is ours over floor, or -1 when either is unknown.
func ratio(ours, floor float64) float64 {
	if ours < 0 || floor <= 0 {
		return -1
	}
	return ours / floor
}

// cpuShare is CPU seconds over wall seconds as a share of cores cores.
func cpuShare(cpu, wall float64, cores int) float64 {
	if cpu < 0 || wall <= 0 {
		return -1
	}
	return cpu / (wall * float64(cores))
}

// selfCPU is the bench process's own user plus system CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru) // fails only for a bad argument
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// withCPU runs a load phase and adds to its figures the CPU the server
// (read by clock) and the bench itself used meanwhile.
func withCPU(clock func() cpuReading, phase func() Latency) Latency {
	began, from, self := time.Now(), clock(), selfCPU()
	l := phase()
	self = selfCPU() - self
	l.Seconds = time.Since(began).Seconds()
	l.CPUSeconds = cpuDelta(from, clock())
	l.CPUMicrosPerReview = microsPer(l.CPUSeconds, l.Requests)
	l.ClientCPUSeconds = self
	l.ClientCPUShare = cpuShare(self, l.Seconds, runtime.NumCPU())
	return l
}

// cpuSeconds is the cgroup's CPU usage: v1 cpuacct.usage (ns), v2
// cpu.stat's usage_usec.
func (c *cgroup) cpuSeconds() (float64, error) {
	if c.v2 {
		us := readKeyed(filepath.Join(c.acct, "cpu.stat"), "usage_usec")
		if us < 0 {
			return 0, fmt.Errorf("no usage_usec in %s/cpu.stat", c.acct)
		}
		return float64(us) / 1e6, nil
	}
	b, err := os.ReadFile(filepath.Join(c.acct, "cpuacct.usage"))
	if err != nil {
		return 0, err
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return float64(ns) / 1e9, err
}

// cpuSeconds is the user plus system CPU time of process pid.
func cpuSeconds(pid int) (float64, error) {
	if pid <= 0 {
		return 0, errNotRunning
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return statCPU(b)
}

// statCPU reads utime and stime from a /proc/<pid>/stat line: the 14th and
// 15th fields, in clock ticks (100 a second on Linux), counted after the
// parenthesised command name, which may hold spaces and parentheses.
func statCPU(stat []byte) (float64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no command name in /proc/<pid>/stat")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc/<pid>/stat")
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unreadable utime/stime %q %q in /proc/<pid>/stat", f[11], f[12])
	}
	return float64(utime+stime) / 100, nil
}
