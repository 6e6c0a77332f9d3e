package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// memory is a container's memory cgroup as the kernel accounts it.
type memory struct {
	version, path                string
	limit, peak, usage, oomKills int64
}

// cgroupMemory reads the memory cgroup of process pid: the memory
// controller's hierarchy on cgroup v1, the unified one on v2.
func cgroupMemory(pid int) (memory, error) {
	self, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return memory{}, err
	}
	var v1, v2 string
	for line := range strings.SplitSeq(strings.TrimSpace(string(self)), "\n") {
		f := strings.SplitN(line, ":", 3)
		switch {
		case len(f) != 3:
		case slices.Contains(strings.Split(f[1], ","), "memory"):
			v1 = f[2]
		case f[0] == "0" && f[1] == "":
			v2 = f[2]
		}
	}
	if v1 != "" {
		dir := filepath.Join("/sys/fs/cgroup/memory", v1)
		m := memory{version: "v1", path: v1}
		m.limit, err = readInt(dir, "memory.limit_in_bytes")
		if err == nil {
			m.peak, err = readInt(dir, "memory.max_usage_in_bytes")
		}
		if err == nil {
			m.usage, err = readInt(dir, "memory.usage_in_bytes")
		}
		if err == nil {
			m.oomKills, err = readKey(dir, "memory.oom_control", "oom_kill")
		}
		return m, err
	}
	if v2 == "" {
		return memory{}, fmt.Errorf("process %d is in no memory cgroup", pid)
	}
	dir := filepath.Join("/sys/fs/cgroup", v2)
	m := memory{version: "v2", path: v2}
	m.limit, err = readInt(dir, "memory.max")
	if err == nil {
		m.peak, err = readInt(dir, "memory.peak")
	}
	if err == nil {
		m.usage, err = readInt(dir, "memory.current")
	}
	if err == nil {
		m.oomKills, err = readKey(dir, "memory.events", "oom_kill")
	}
	return m, err
}

func readInt(dir, file string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// readKey reads "key value" from a flat-keyed cgroup file.
func readKey(dir, file, key string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s has no %s", filepath.Join(dir, file), key)
}
