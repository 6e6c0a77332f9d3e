package main

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCgroupOOMKill runs a child that allocates ~100 MB in a 32 MiB cgroup
// and expects the kernel to OOM-kill it and the cgroup to go afterwards.
func TestCgroupOOMKill(t *testing.T) {
	cg, err := newCgroup(limits{memoryBytes: 32 << 20})
	if err != nil {
		t.Skipf("no writable memory cgroup on this machine: %v", err)
	}
	t.Logf("cgroup %v (v2: %v)", cg.dirs, cg.v2)
	defer func() { _ = cg.remove() }()
	w := cg.wrapper()
	// tail keeps the newline-free 100 MB "last line" in memory.
	cmd := exec.Command(w[0], append(w[1:], "/bin/sh", "-c", "head -c 100000000 /dev/zero | tail")...)
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the child was not killed: %v", err)
	}
	if n := cg.oomKills(); n < 1 {
		t.Errorf("oom_kill = %d, want ≥ 1", n)
	}
	if p := cg.peak(); p <= 0 || p > 33<<20 {
		t.Errorf("peak = %d, want in (0, 32 MiB]", p)
	}
	t.Logf("exit %v, oom_kill %d, peak %d", err, cg.oomKills(), cg.peak())
	if err := cg.remove(); err != nil {
		t.Fatal(err)
	}
	for _, d := range cg.dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s still exists: %v", d, err)
		}
	}
}

// TestCgroupCPUQuota runs a busy loop for a second in a cgroup limited to
// 100m and 64 MiB: it must have joined every hierarchy, got about a tenth
// of a second of CPU, and been throttled.
func TestCgroupCPUQuota(t *testing.T) {
	cg, err := newCgroup(limits{memoryBytes: 64 << 20, cpuMilli: 100})
	if err != nil {
		t.Skipf("no writable memory and cpu cgroups on this machine: %v", err)
	}
	defer func() { _ = cg.remove() }()
	if cg.acct == "" {
		t.Skip("no cpuacct hierarchy on this machine")
	}
	w := cg.wrapper()
	cmd := exec.Command(w[0], append(w[1:], "/bin/sh", "-c", "while :; do :; done")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	procs, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", cmd.Process.Pid))
	used, usedErr := cg.cpuSeconds()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(procs), "/"+filepath.Base(cg.dirs[0])+"\n"); n != len(cg.dirs) {
		t.Errorf("the child is in %d of the cgroup's %d directories:\n%s", n, len(cg.dirs), procs)
	}
	if usedErr != nil || used <= 0 || used > 0.3 {
		t.Errorf("CPU used in 1 s at 100m = %.3f s (%v), want about 0.1", used, usedErr)
	}
	periods, throttled := cg.throttling()
	if throttled < 1 || periods < throttled {
		t.Errorf("throttled in %d of %d periods, want at least one", throttled, periods)
	}
	t.Logf("%.3f s of CPU, throttled in %d of %d periods", used, throttled, periods)
	if err := cg.remove(); err != nil {
		t.Fatal(err)
	}
}

func TestSelfCgroupsFindsEachControllersHierarchy(t *testing.T) {
	for name, tc := range map[string]struct {
		give        string
		wantV1      map[string]hierarchy
		wantUnified string
	}{
		"hybrid with cpu and cpuacct mounted apart": {
			give: "4:memory:/process_api/5dba\n2:cpuacct:/\n1:cpu:/\n0::/\n",
			wantV1: map[string]hierarchy{"memory": {"memory", "/process_api/5dba"}, "cpuacct": {"cpuacct", "/"},
				"cpu": {"cpu", "/"}},
			wantUnified: "/",
		},
		"cpu and cpuacct mounted together": {
			give:   "5:cpu,cpuacct:/user.slice\n3:memory:/user.slice",
			wantV1: map[string]hierarchy{"cpu": {"cpu,cpuacct", "/user.slice"}, "cpuacct": {"cpu,cpuacct", "/user.slice"}, "memory": {"memory", "/user.slice"}},
		},
		"v2 only": {
			give:        "0::/user.slice/session-1.scope\n",
			wantV1:      map[string]hierarchy{},
			wantUnified: "/user.slice/session-1.scope",
		},
	} {
		t.Run(name, func(t *testing.T) {
			v1, unified := selfCgroups(tc.give)
			if !maps.Equal(v1, tc.wantV1) || unified != tc.wantUnified {
				t.Errorf("selfCgroups = %v, %q; want %v, %q", v1, unified, tc.wantV1, tc.wantUnified)
			}
		})
	}
}

func TestEvictFromPageCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "binary")
	if err := os.WriteFile(path, make([]byte, 1<<20), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := evictFromPageCache(path); err != nil {
		t.Errorf("evict %s: %v", path, err)
	}
	if err := evictFromPageCache(path + ".missing"); err == nil {
		t.Error("no error for a missing file")
	}
}
