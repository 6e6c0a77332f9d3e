package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cgroup is a memory cgroup the bench creates for the webhook, as the
// kubelet creates one per container: a child of the bench's own memory
// cgroup, on cgroup v1 (memory controller) or v2 (unified hierarchy).
type cgroup struct {
	dir string
	v2  bool
}

const cgroupRoot = "/sys/fs/cgroup"

// newCgroup creates a memory cgroup limited to limit bytes. The error says
// why when the machine has no writable memory cgroup.
func newCgroup(limit int64) (*cgroup, error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	name := fmt.Sprintf("bench-webhook-%d-%d", os.Getpid(), time.Now().UnixNano())
	v1, unified := "", ""
	found := false
	for _, line := range strings.Split(strings.TrimSpace(string(self)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		switch {
		case f[0] == "0" && f[1] == "":
			unified = f[2]
		case contains(strings.Split(f[1], ","), "memory"):
			v1, found = f[2], true
		}
	}
	switch {
	case found: // v1: a memory controller hierarchy is mounted
		cg := &cgroup{dir: filepath.Join(cgroupRoot, "memory", v1, name)}
		if err := os.Mkdir(cg.dir, 0o755); err != nil {
			return nil, fmt.Errorf("create a cgroup v1 memory cgroup: %w", err)
		}
		if err := cg.write("memory.limit_in_bytes", limit); err != nil {
			return nil, errors.Join(err, cg.remove())
		}
		// Without a memsw limit the kernel swaps instead of OOM-killing; it
		// exists only when swap accounting is on.
		if _, err := os.Stat(filepath.Join(cg.dir, "memory.memsw.limit_in_bytes")); err == nil {
			if err := cg.write("memory.memsw.limit_in_bytes", limit); err != nil {
				return nil, errors.Join(err, cg.remove())
			}
		}
		return cg, nil
	case unified != "":
		parent := filepath.Join(cgroupRoot, unified)
		ctrl, err := os.ReadFile(filepath.Join(parent, "cgroup.controllers"))
		if err != nil || !contains(strings.Fields(string(ctrl)), "memory") {
			return nil, fmt.Errorf("cgroup v2 %s has no memory controller", parent)
		}
		// v2 allows no processes in a cgroup that delegates controllers,
		// so this fails when the bench itself lives in parent.
		if err := os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+memory"), 0o644); err != nil {
			return nil, fmt.Errorf("enable the memory controller below %s: %w", parent, err)
		}
		cg := &cgroup{dir: filepath.Join(parent, name), v2: true}
		if err := os.Mkdir(cg.dir, 0o755); err != nil {
			return nil, fmt.Errorf("create a cgroup v2 cgroup: %w", err)
		}
		if err := cg.write("memory.max", limit); err != nil {
			return nil, errors.Join(err, cg.remove())
		}
		if _, err := os.Stat(filepath.Join(cg.dir, "memory.swap.max")); err == nil {
			if err := cg.write("memory.swap.max", 0); err != nil {
				return nil, errors.Join(err, cg.remove())
			}
		}
		return cg, nil
	}
	return nil, errors.New("no memory cgroup in /proc/self/cgroup")
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (c *cgroup) write(file string, v int64) error {
	if err := os.WriteFile(filepath.Join(c.dir, file), []byte(strconv.FormatInt(v, 10)), 0o644); err != nil {
		return fmt.Errorf("set %s: %w", file, err)
	}
	return nil
}

// wrapper starts a command inside the cgroup: the shell moves itself in and
// execs the command, so the process allocates nothing outside it and keeps
// the shell's pid. The procs file is $0, which needs no quoting.
func (c *cgroup) wrapper() []string {
	return []string{"/bin/sh", "-c", `echo $$ > "$0" && exec "$@"`, filepath.Join(c.dir, "cgroup.procs")}
}

// peak is the highest memory usage of the cgroup so far, or -1.
func (c *cgroup) peak() int64 {
	file := "memory.max_usage_in_bytes"
	if c.v2 {
		file = "memory.peak" // Linux ≥ 5.19
	}
	b, err := os.ReadFile(filepath.Join(c.dir, file))
	if err != nil {
		return -1
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// oomKills is the number of processes the kernel OOM-killed in the cgroup,
// or -1 when the kernel does not count them (v1 before Linux 4.13).
func (c *cgroup) oomKills() int64 {
	file := "memory.oom_control"
	if c.v2 {
		file = "memory.events"
	}
	f, err := os.Open(filepath.Join(c.dir, file))
	if err != nil {
		return -1
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == "oom_kill" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// remove deletes the cgroup once its processes have exited; the kernel
// refuses (EBUSY) while one is still being reaped, hence the retries.
func (c *cgroup) remove() error {
	var err error
	for range 50 {
		if err = os.Remove(c.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", c.dir, err)
}
