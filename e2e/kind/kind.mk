# Included from the root Makefile: `make kind-bench` compares upstream's
# webhook and ours in a kind cluster (e2e/kind/kind-bench.sh). It needs
# Docker, kind and network access, so it is the one path CI does not run.
.PHONY: kind-bench lint-shell

kind-bench: image tools bin/kubectl ## Upstream's image and ours in a kind cluster under SCENARIO, side by side (Docker, kind, network; not in CI)
	SCENARIO=$(SCENARIO) e2e/kind/kind-bench.sh

# The scripts, with Debian's shellcheck (apt-get install shellcheck).
lint: lint-shell
lint-shell:
	shellcheck $$(git ls-files '*.sh')
