//go:build tools

// Package apiserver pins the kube-apiserver (and kubectl, for `make run`)
// version that the end-to-end tests and the demo use. It holds no code: the
// blank imports keep k8s.io/kubernetes and kubectl's packages in go.mod so
// `go build k8s.io/kubernetes/cmd/kube-apiserver` and `.../cmd/kubectl`
// resolve from this module.
package apiserver

import (
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	_ "k8s.io/kubectl/pkg/cmd"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
