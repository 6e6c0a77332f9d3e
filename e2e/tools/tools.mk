# etcd and kube-apiserver for the local control plane (e2e/controlplane,
# e2e/cmd/devcluster), and helm for the chart tests (e2e/chart), built from
# the Go module proxy. The root Makefile
# includes this file; targets are relative to the repository root.
#
# Each binary has its own module under e2e/tools/ because etcd's server and
# k8s.io/kubernetes need different versions of shared dependencies (etcd
# client 3.6 vs 3.7, grpc, OpenTelemetry). A binary is rebuilt only when it
# is missing or its module's go.mod/go.sum changed. From cold module and
# build caches kube-apiserver costs about 1,300 CPU-seconds (some 11 minutes
# on 2 cores) and etcd about 200; with a warm build cache each is a relink
# of under half a minute.

TOOLS_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
TOOLS_GOBUILD := CGO_ENABLED=0 go build -trimpath

.PHONY: tools clean-tools

tools: bin/etcd bin/kube-apiserver bin/helm ## Build etcd, kube-apiserver and helm into bin/ for the e2e tests and `make run`

# The version is stamped as Kubernetes' own build does, so /version and
# clients' skew checks see v1.x.y rather than v0.0.0-master.
bin/kube-apiserver: $(TOOLS_DIR)/apiserver/go.mod $(TOOLS_DIR)/apiserver/go.sum
	@mkdir -p $(@D)
	cd $(TOOLS_DIR)/apiserver && \
	v=$$(go list -m -f '{{.Version}}' k8s.io/kubernetes) && \
	minor=$${v#v1.}; minor=$${minor%%.*} && \
	$(TOOLS_GOBUILD) -o $(abspath $@) \
		-ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$$minor" \
		k8s.io/kubernetes/cmd/kube-apiserver

# kubectl only serves `make run`, to show a denial by hand.
bin/kubectl: $(TOOLS_DIR)/apiserver/go.mod $(TOOLS_DIR)/apiserver/go.sum
	@mkdir -p $(@D)
	cd $(TOOLS_DIR)/apiserver && \
	$(TOOLS_GOBUILD) -o $(abspath $@) -ldflags="-s -w" k8s.io/kubernetes/cmd/kubectl

bin/etcd: $(TOOLS_DIR)/etcd/go.mod $(TOOLS_DIR)/etcd/go.sum
	@mkdir -p $(@D)
	cd $(TOOLS_DIR)/etcd && \
	$(TOOLS_GOBUILD) -o $(abspath $@) -ldflags="-s -w" go.etcd.io/etcd/server/v3

# Versions are stamped as helm's own Makefile does: its own, and the
# Kubernetes release of its client-go as the default .Capabilities.KubeVersion
# and the release `helm lint` checks deprecations against (else v1.20).
bin/helm: $(TOOLS_DIR)/helm/go.mod $(TOOLS_DIR)/helm/go.sum
	@mkdir -p $(@D)
	cd $(TOOLS_DIR)/helm && \
	v=$$(go list -m -f '{{.Version}}' helm.sh/helm/v3) && \
	k=$$(go list -m -f '{{.Version}}' k8s.io/client-go) && \
	minor=$${k#v0.}; minor=$${minor%%.*} && \
	$(TOOLS_GOBUILD) -o $(abspath $@) -ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$$v \
		-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$$minor \
		-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$$minor" \
		helm.sh/helm/v3/cmd/helm

clean-tools: ## Remove the built etcd, kube-apiserver, kubectl, helm and the node components
	rm -f bin/etcd bin/kube-apiserver bin/kubectl bin/helm $(CLUSTER_TOOLS)

# The node components of `make cluster` (e2e/cluster): the kubelet,
# kube-controller-manager and kube-scheduler, at kube-apiserver's release and
# stamped the same way, from their own module (e2e/tools/cluster/tools.go says
# why). On 2 cores with a warm build cache the kubelet takes some 2.5 minutes,
# the controller-manager 1 and the scheduler a quarter.
CLUSTER_TOOLS := bin/kubelet bin/kube-controller-manager bin/kube-scheduler

.PHONY: cluster-tools
cluster-tools: $(CLUSTER_TOOLS) ## Build the kubelet, kube-controller-manager and kube-scheduler into bin/ for `make cluster`

$(CLUSTER_TOOLS): bin/%: $(TOOLS_DIR)/cluster/go.mod $(TOOLS_DIR)/cluster/go.sum
	@mkdir -p $(@D)
	cd $(TOOLS_DIR)/cluster && \
	v=$$(go list -m -f '{{.Version}}' k8s.io/kubernetes) && \
	minor=$${v#v1.}; minor=$${minor%%.*} && \
	$(TOOLS_GOBUILD) -o $(abspath $@) \
		-ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$$minor" \
		k8s.io/kubernetes/cmd/$*
