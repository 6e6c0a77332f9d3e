# Included from the root Makefile: a one-node cluster on this host, without
# kind (e2e/cluster/cluster.sh), and the chart benchmarked in it flag off
# and on (e2e/cluster/chart-bench.sh, which `make kind-bench` shares). They
# need root and Debian's containerd, runc and containernetworking-plugins,
# and take minutes: none is part of `make test`.
#
# UPSTREAM_BIN=file runs the flag-off half on that binary (upstream's webhook
# built from its public source with CGO_ENABLED=0), packed by `make image`;
# without it the flag-on half runs alone. SCENARIO and IDLE as for
# kind-bench; API_DURATION of each admission phase (default 20s).
CLUSTER_DIR ?= bin/cluster
PAUSE_IMAGE := localhost/hnw-pause:v1
PAUSE_ARCHIVE := $(IMAGE_DIR)/pause.tar
UPSTREAM_BIN ?=
UPSTREAM_REPO := localhost/rancher/harvester-network-webhook
UPSTREAM_TAG := upstream
UPSTREAM_ARCHIVE := $(IMAGE_DIR)/upstream.tar
IDLE ?= 60
API_DURATION ?= 20s

.PHONY: cluster cluster-down cluster-bench upstream-image

# The pod sandbox's image: e2e/cluster/pause, packed as `make image` packs the
# webhook. Nothing is pulled, so it is imported before the kubelet starts.
$(PAUSE_ARCHIVE): e2e/cluster/pause/main.go
	@mkdir -p $(@D)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o $(IMAGE_DIR)/pause ./e2e/cluster/pause
	cd e2e/tools/image && $(GO) run . -binary $(abspath $(IMAGE_DIR))/pause -ref $(PAUSE_IMAGE) -out $(abspath $@)

cluster: tools cluster-tools bin/kubectl $(PAUSE_ARCHIVE) ## One-node cluster on this host (root; containerd, kubelet); kubeconfig in bin/cluster/kubeconfig
	CLUSTER_DIR=$(CLUSTER_DIR) PAUSE_ARCHIVE=$(PAUSE_ARCHIVE) PAUSE_IMAGE=$(PAUSE_IMAGE) e2e/cluster/cluster.sh up

cluster-down: ## Stop the `make cluster` node and remove all it made (processes, mounts, network, cgroups, state)
	CLUSTER_DIR=$(CLUSTER_DIR) e2e/cluster/cluster.sh down

# The upstream-shaped image of UPSTREAM_BIN, for the flag-off half.
upstream-image:
	$(if $(UPSTREAM_BIN),,$(error UPSTREAM_BIN=file: the upstream webhook binary to pack))
	$(MAKE) image IMAGE_BIN=$(UPSTREAM_BIN) IMAGE_REPO=$(UPSTREAM_REPO) IMAGE_TAG=$(UPSTREAM_TAG) IMAGE_ARCHIVE=$(UPSTREAM_ARCHIVE)

cluster-bench: cluster image $(if $(UPSTREAM_BIN),upstream-image) ## The chart in `make cluster` under SCENARIO, flag off (UPSTREAM_BIN=file) then on: memory, OOM kills, readiness, latency
	CLUSTER_DIR=$(CLUSTER_DIR) e2e/cluster/cluster.sh import $(IMAGE_ARCHIVE) $(if $(UPSTREAM_BIN),$(UPSTREAM_ARCHIVE))
	KUBECONFIG=$(abspath $(CLUSTER_DIR))/kubeconfig CLUSTER_NAME="make cluster" SCENARIO=$(SCENARIO) IDLE=$(IDLE) \
	API_DURATION=$(API_DURATION) LOWMEM_IMAGE=$(IMAGE_REPO):$(IMAGE_TAG) \
	UPSTREAM_IMAGE=$(if $(UPSTREAM_BIN),$(UPSTREAM_REPO):$(UPSTREAM_TAG)) e2e/cluster/chart-bench.sh
