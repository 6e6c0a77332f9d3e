//go:build unix && !linux

package controlplane

import "syscall"

// childSysProcAttr puts a child in its own process group, so Stop can signal
// the whole group.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
