package main

import (
	"errors"
	"os"
	"os/exec"
	"testing"
)

// TestCgroupOOMKill runs a child that allocates ~100 MB in a 32 MiB cgroup
// and expects the kernel to OOM-kill it and the cgroup to go afterwards.
func TestCgroupOOMKill(t *testing.T) {
	cg, err := newCgroup(32 << 20)
	if err != nil {
		t.Skipf("no writable memory cgroup on this machine: %v", err)
	}
	t.Logf("cgroup %s (v2: %v)", cg.dir, cg.v2)
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
	if _, err := os.Stat(cg.dir); !os.IsNotExist(err) {
		t.Errorf("cgroup %s still exists: %v", cg.dir, err)
	}
}
