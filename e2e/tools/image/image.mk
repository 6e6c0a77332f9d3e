# Included from the root Makefile: `make image` packs the webhook into an OCI
# image archive without a container engine (e2e/tools/image; Dockerfile for
# those who build with one). Two builds of one tree have one digest; set
# SOURCE_DATE_EPOCH to stamp another time than the epoch.
#
# IMAGE_BIN packs that binary instead of building ours, e.g. upstream's,
# built from its public source with CGO_ENABLED=0: it goes in as
# /usr/bin/harvester-network-webhook, the command upstream's chart runs.
IMAGE_REPO ?= ghcr.io/lowmem/harvester-network-webhook
IMAGE_TAG ?= dev
IMAGE_DIR ?= bin/image
IMAGE_ARCHIVE ?= $(IMAGE_DIR)/harvester-network-webhook.tar
IMAGE_BIN ?=

.PHONY: image

image: ## Build the OCI image archive bin/image/harvester-network-webhook.tar without an engine (IMAGE_BIN=file packs that binary); prints its digest
	@mkdir -p $(IMAGE_DIR) $(dir $(IMAGE_ARCHIVE))
	$(if $(IMAGE_BIN),,CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o $(IMAGE_DIR)/harvester-network-webhook .)
	cd e2e/tools/image && $(GO) run . -binary $(abspath $(or $(IMAGE_BIN),$(IMAGE_DIR)/harvester-network-webhook)) \
		-name harvester-network-webhook -ref $(IMAGE_REPO):$(IMAGE_TAG) -out $(abspath $(IMAGE_ARCHIVE))
	@echo "$(IMAGE_ARCHIVE): $$(stat -c %s $(IMAGE_ARCHIVE)) bytes"

# The tool is a module of its own, which `go vet ./...` at the root skips.
lint: lint-image
.PHONY: lint-image
lint-image:
	cd e2e/tools/image && $(GO) vet ./... && \
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) run --config $(abspath .golangci.yml) ./...

# Not in `make test`: it needs root and a container engine, which
# e2e/cmd/imagee2e/docker.sh installs (Debian's docker.io) and starts.
.PHONY: image-e2e
image-e2e: tools image ## Run the image in Docker (-m 64m, host network) against a local control plane; installs and starts docker if needed (root)
	e2e/cmd/imagee2e/docker.sh $(GO) run ./e2e/cmd/imagee2e -archive $(IMAGE_ARCHIVE) -ref $(IMAGE_REPO):$(IMAGE_TAG)
