//go:build tools

// Package etcd pins the etcd version that the end-to-end tests and
// `make run` use. It holds no code: the blank import keeps etcd's server
// module (whose root package is etcd's main) in go.mod.
//
// It is a module of its own because etcd's server and k8s.io/kubernetes
// want different versions of shared dependencies (etcd client, grpc,
// OpenTelemetry); one module would force one side onto untested versions.
package etcd

import _ "go.etcd.io/etcd/server/v3"
