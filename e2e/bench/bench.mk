# Included from the root Makefile: `make bench SCENARIO=L1 OUT=bench-L1.json`.
# WEBHOOK_BIN measures another binary; BENCH_FLAGS passes more flags
# (e.g. -idle 10s -duration 5s for a quick run, -workdir DIR to keep the load).
SCENARIO ?= L1
WEBHOOK_BIN ?= bin/harvester-network-webhook
OUT ?=
BENCH_FLAGS ?=

.PHONY: bench
bench: tools build ## Load a scenario (SCENARIO=L1|L10) and measure WEBHOOK_BIN: memory, readiness, admission latency (OUT=file for JSON)
	$(GO) run ./e2e/bench -scenario $(SCENARIO) -webhook-bin $(WEBHOOK_BIN) $(if $(OUT),-out $(OUT)) $(BENCH_FLAGS)
