# Targets are documented with "##"; `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

GO ?= go
GOLANGCI_LINT_VERSION ?= v2.15.0

include e2e/tools/tools.mk
include e2e/bench/bench.mk
include e2e/tools/image/image.mk
include e2e/kind/kind.mk
include e2e/cluster/cluster.mk

.PHONY: help build test unit e2e lint run clean

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_/-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

build: ## Build bin/harvester-network-webhook
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/harvester-network-webhook .

# The end-to-end packages each start a control plane: run them one at a time,
# after the unit tests, so that 2 cores are not shared by compilers and
# several API servers at once.
test: tools ## Run every test: unit, parity replay and end-to-end (builds the control plane first)
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)
	$(GO) test -race -count=1 -p 1 -timeout 30m ./e2e/...

unit: ## Run the tests that need no control plane
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)

e2e: tools ## Run the end-to-end tests only (E2E_KUBECONFIG=<file> uses an existing cluster)
	$(GO) test -count=1 -v -timeout 20m ./e2e/

lint: ## gofmt, go vet and golangci-lint
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) run ./...

run: tools bin/kubectl build ## Start a local control plane, the webhook registered against it and example objects; Ctrl-C stops
	$(GO) run ./e2e/cmd/demo

clean: clean-tools ## Remove built binaries
	rm -f bin/harvester-network-webhook

# Hostile input and long runs (issue 13); neither is part of `make test`.
# `make fuzz` runs every fuzz target of the module for FUZZTIME each; an
# input that fails is written to the package's testdata/fuzz and replayed by
# every `go test` after. `make soak` runs SOAK_DURATION of mixed admission
# traffic through the API server at SOAK_RATE a second with the L1 churn,
# and reports requests, failures and the live heap every 10 s.
FUZZTIME ?= 60s
SOAK_DURATION ?= 30m
SOAK_RATE ?= 200

.PHONY: fuzz soak
fuzz: ## Run every fuzz target for FUZZTIME each (default 60s)
	@set -e; for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$target"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME); \
	  done; \
	done

soak: tools build ## Soak: SOAK_DURATION (30m) of admissions through the API server at SOAK_RATE/s (200) with the L1 churn
	$(GO) run ./e2e/bench -scenario L1 -webhook-bin $(WEBHOOK_BIN) -idle 10s -duration 5s \
	  -soak $(SOAK_DURATION) -soak-rate $(SOAK_RATE) $(if $(OUT),-out $(OUT)) $(BENCH_FLAGS)
