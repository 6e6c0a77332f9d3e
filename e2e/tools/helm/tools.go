//go:build tools

// Package helm pins the helm version that the chart tests use. It holds no
// code: the blank import keeps helm's command package in go.mod so
// `go build helm.sh/helm/v3/cmd/helm` resolves from this module.
//
// It is a module of its own so that helm's dependencies (containerd, oras,
// its own k8s.io versions) never reach the webhook's go.mod.
package helm

import _ "helm.sh/helm/v3/cmd/helm"
