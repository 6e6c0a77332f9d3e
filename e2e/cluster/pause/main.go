// Command pause is the pod sandbox's process for `make cluster`: it holds
// the pod's namespaces open, reaps the children it inherits as PID 1 of a
// shared PID namespace, and exits 0 on SIGINT or SIGTERM. Nothing can be
// pulled here, so e2e/cluster/cluster.sh builds it statically, packs it
// with e2e/tools/image and imports it as containerd's sandbox image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every child that has exited, without blocking.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
