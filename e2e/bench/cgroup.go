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

	"golang.org/x/sys/unix"
)

// limits are a container's resource limits; zero is no limit.
type limits struct {
	memoryBytes int64
	cpuMilli    int64 // millicores
}

// cgroup is a cgroup the bench creates for a process it measures, as the
// kubelet creates one per container: on cgroup v1 a directory in each
// hierarchy it needs (below the bench's own), on v2 one directory in the
// unified hierarchy. On v1 it also joins the cpuacct hierarchy when there is
// one, so that the CPU of every incarnation of a restarted process is
// counted.
type cgroup struct {
	dirs           []string // every directory the process joins
	mem, cpu, acct string   // where each controller's files are; "" when not used
	v2             bool
}

const cgroupRoot = "/sys/fs/cgroup"

// hierarchy is a v1 hierarchy of /proc/self/cgroup: the controllers mounted
// together (also the mount's name below cgroupRoot) and our cgroup's path.
type hierarchy struct{ mount, path string }

// selfCgroups parses /proc/self/cgroup into the v1 hierarchy of each
// controller and the v2 path ("" when there is no unified hierarchy).
func selfCgroups(s string) (v1 map[string]hierarchy, unified string) {
	v1 = map[string]hierarchy{}
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			unified = f[2]
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			v1[c] = hierarchy{mount: f[1], path: f[2]}
		}
	}
	return v1, unified
}

// newCgroup creates a cgroup with the limits l, at least one of them set.
// The error says why when the machine has no writable cgroup with the
// controllers needed.
func newCgroup(l limits) (*cgroup, error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	v1, unified := selfCgroups(string(self))
	var need []string
	if l.memoryBytes > 0 {
		need = append(need, "memory")
	}
	if l.cpuMilli > 0 {
		need = append(need, "cpu")
	}
	name := fmt.Sprintf("bench-%d-%d", os.Getpid(), time.Now().UnixNano())
	inV1 := true
	for _, c := range need {
		_, ok := v1[c]
		inV1 = inV1 && ok
	}
	switch {
	case len(need) == 0:
		return nil, errors.New("internal error: a cgroup without limits")
	case inV1:
		return newCgroupV1(v1, name, l)
	case unified != "":
		return newCgroupV2(filepath.Join(cgroupRoot, unified), name, need, l)
	}
	return nil, fmt.Errorf("no cgroup with the %s controllers in /proc/self/cgroup", strings.Join(need, " and "))
}

func newCgroupV1(v1 map[string]hierarchy, name string, l limits) (_ *cgroup, err error) {
	cg := &cgroup{}
	defer func() {
		if err != nil {
			err = errors.Join(err, cg.remove())
		}
	}()
	if l.memoryBytes > 0 {
		if cg.mem, err = cg.join(v1["memory"], name); err != nil {
			return nil, err
		}
		if err := cg.write(cg.mem, "memory.limit_in_bytes", strconv.FormatInt(l.memoryBytes, 10)); err != nil {
			return nil, err
		}
		// Without a memsw limit the kernel swaps instead of OOM-killing; it
		// exists only when swap accounting is on.
		if _, err := os.Stat(filepath.Join(cg.mem, "memory.memsw.limit_in_bytes")); err == nil {
			if err := cg.write(cg.mem, "memory.memsw.limit_in_bytes", strconv.FormatInt(l.memoryBytes, 10)); err != nil {
				return nil, err
			}
		}
	}
	if l.cpuMilli > 0 {
		if cg.cpu, err = cg.join(v1["cpu"], name); err != nil {
			return nil, err
		}
		for _, f := range cpuLimitFiles(l.cpuMilli, false) {
			if err := cg.write(cg.cpu, f.name, f.value); err != nil {
				return nil, err
			}
		}
	}
	if h, ok := v1["cpuacct"]; ok {
		// Accounting only: without it the CPU figures come from /proc.
		if cg.acct, err = cg.join(h, name); err != nil {
			logf("no cpuacct cgroup, CPU is read from /proc: %v", err)
			cg.acct, err = "", nil
		}
	}
	return cg, nil
}

// join creates the cgroup name in hierarchy h, once for controllers mounted
// together.
func (c *cgroup) join(h hierarchy, name string) (string, error) {
	dir := filepath.Join(cgroupRoot, h.mount, h.path, name)
	for _, d := range c.dirs {
		if d == dir {
			return dir, nil
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", fmt.Errorf("create a cgroup v1 %s cgroup: %w", h.mount, err)
	}
	c.dirs = append(c.dirs, dir)
	return dir, nil
}

func newCgroupV2(parent, name string, need []string, l limits) (_ *cgroup, err error) {
	ctrl, err := os.ReadFile(filepath.Join(parent, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("cgroup v2 %s: %w", parent, err)
	}
	enable := make([]string, 0, len(need))
	for _, c := range need {
		if !contains(strings.Fields(string(ctrl)), c) {
			return nil, fmt.Errorf("cgroup v2 %s has no %s controller", parent, c)
		}
		enable = append(enable, "+"+c)
	}
	// v2 allows no processes in a cgroup that delegates controllers, so
	// this fails when the bench itself lives in parent.
	if err := os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte(strings.Join(enable, " ")), 0o644); err != nil {
		return nil, fmt.Errorf("enable the %s controllers below %s: %w", strings.Join(need, " and "), parent, err)
	}
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create a cgroup v2 cgroup: %w", err)
	}
	// cpu.stat's usage exists whether or not the cpu controller is enabled.
	cg := &cgroup{dirs: []string{dir}, acct: dir, v2: true}
	defer func() {
		if err != nil {
			err = errors.Join(err, cg.remove())
		}
	}()
	if l.memoryBytes > 0 {
		cg.mem = dir
		if err := cg.write(dir, "memory.max", strconv.FormatInt(l.memoryBytes, 10)); err != nil {
			return nil, err
		}
		if _, err := os.Stat(filepath.Join(dir, "memory.swap.max")); err == nil {
			if err := cg.write(dir, "memory.swap.max", "0"); err != nil {
				return nil, err
			}
		}
	}
	if l.cpuMilli > 0 {
		cg.cpu = dir
		for _, f := range cpuLimitFiles(l.cpuMilli, true) {
			if err := cg.write(dir, f.name, f.value); err != nil {
				return nil, err
			}
		}
	}
	return cg, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (c *cgroup) write(dir, file, v string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(v), 0o644); err != nil {
		return fmt.Errorf("set %s: %w", file, err)
	}
	return nil
}

// wrapper starts a command inside the cgroup: the shell moves itself into
// each directory and execs the command, so the process runs nowhere else
// and keeps the shell's pid. The procs files are arguments up to "--",
// which need no quoting.
func (c *cgroup) wrapper() []string {
	w := []string{"/bin/sh", "-c", `while [ "$1" != -- ]; do echo $$ > "$1" || exit 1; shift; done; shift; exec "$@"`, "sh"}
	for _, d := range c.dirs {
		w = append(w, filepath.Join(d, "cgroup.procs"))
	}
	return append(w, "--")
}

// peak is the highest memory usage of the cgroup so far, or -1.
func (c *cgroup) peak() int64 {
	if c.mem == "" {
		return -1
	}
	file := "memory.max_usage_in_bytes"
	if c.v2 {
		file = "memory.peak" // Linux ≥ 5.19
	}
	b, err := os.ReadFile(filepath.Join(c.mem, file))
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
	if c.mem == "" {
		return -1
	}
	file := "memory.oom_control"
	if c.v2 {
		file = "memory.events"
	}
	return readKeyed(filepath.Join(c.mem, file), "oom_kill")
}

// throttling is how many CFS periods the cgroup's processes ran in, and in
// how many of them the CPU quota stopped them; -1s without a CPU limit.
func (c *cgroup) throttling() (periods, throttled int64) {
	if c.cpu == "" {
		return -1, -1
	}
	stat := filepath.Join(c.cpu, "cpu.stat")
	return readKeyed(stat, "nr_periods"), readKeyed(stat, "nr_throttled")
}

// readKeyed reads key from a flat-keyed cgroup file ("key value" lines),
// or -1.
func readKeyed(file, key string) int64 {
	f, err := os.Open(file)
	if err != nil {
		return -1
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == key {
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
	var errs []error
	for i := len(c.dirs) - 1; i >= 0; i-- {
		var err error
		for range 50 {
			if err = os.Remove(c.dirs[i]); err == nil || errors.Is(err, os.ErrNotExist) {
				err = nil
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", c.dirs[i], err))
		}
	}
	return errors.Join(errs...)
}

// evictFromPageCache asks the kernel to drop path's cached pages; those
// mapped by a running process stay.
func evictFromPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}
