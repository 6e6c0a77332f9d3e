package controlplane

import "syscall"

// childSysProcAttr puts a child in its own process group, so Stop can signal
// the whole group, and has the kernel kill it if the parent dies first (a
// test binary killed by its timeout), so no etcd or kube-apiserver outlives
// the test that started it.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
