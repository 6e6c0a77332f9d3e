//go:build tools

// Package cluster pins the node components of `make cluster` (e2e/cluster):
// kube-controller-manager, kube-scheduler and the kubelet, at the
// kube-apiserver's Kubernetes release. It holds no code: the blank imports
// keep their main packages in go.mod.
//
// It is a module of its own, not e2e/tools/apiserver, because the kubelet
// pulls in modules the API server does not (cadvisor, containerd's API):
// building them from the apiserver module would rewrite its go.mod and so
// rebuild, on other versions of shared dependencies, the kube-apiserver that
// the tests and the benchmark use.
package cluster

import (
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
