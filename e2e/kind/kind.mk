# Included from the root Makefile: `make kind-bench` compares upstream's
# webhook and ours in a kind cluster (e2e/kind/kind-bench.sh). It needs
# Docker, kind and network access, so CI does not run it.
.PHONY: kind-bench lint-shell

# The measuring half is e2e/cluster/chart-bench.sh, which `make cluster-bench`
# shares; UPSTREAM_BIN=file runs the flag-off half on that binary, packed by
# `make image`, instead of pulling the chart's image.
kind-bench: image tools bin/kubectl $(if $(UPSTREAM_BIN),upstream-image) ## Upstream's image and ours in a kind cluster under SCENARIO, side by side (Docker, kind, network; not in CI)
	SCENARIO=$(SCENARIO) IDLE=$(IDLE) API_DURATION=$(API_DURATION) LOWMEM_IMAGE=$(IMAGE_REPO):$(IMAGE_TAG) \
	$(if $(UPSTREAM_BIN),UPSTREAM_ARCHIVE=$(UPSTREAM_ARCHIVE) UPSTREAM_IMAGE=$(UPSTREAM_REPO):$(UPSTREAM_TAG)) \
	e2e/kind/kind-bench.sh

# The scripts, with Debian's shellcheck (apt-get install shellcheck).
lint: lint-shell
lint-shell:
	shellcheck $$(git ls-files '*.sh')
