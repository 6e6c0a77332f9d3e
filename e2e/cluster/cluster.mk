# Included from the root Makefile: a one-node cluster on this host, without
# kind (e2e/cluster/cluster.sh). It needs root and Debian's containerd, runc
# and containernetworking-plugins: not part of `make test`.
CLUSTER_DIR ?= bin/cluster
PAUSE_IMAGE := localhost/hnw-pause:v1
PAUSE_ARCHIVE := $(IMAGE_DIR)/pause.tar

.PHONY: cluster cluster-down

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
