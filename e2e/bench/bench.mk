# Included from the root Makefile: `make bench SCENARIO=L1 OUT=bench-L1.json`.
# WEBHOOK_BIN measures another binary; BENCH_FLAGS passes more flags
# (e.g. -idle 10s -duration 5s for a quick run, -workdir DIR to keep the load,
# -profile-dir DIR for pprof heap and CPU profiles of our binary).
# MEMORY_LIMIT=256Mi runs the webhook in a memory cgroup of that limit, with
# GOMEMLIMIT at 90% of it (BENCH_FLAGS=-gomemlimit-fraction 0: unset, as upstream's chart
# leaves it), restarting it after an OOM kill as the kubelet would.
# CPU_LIMIT=200m runs the webhook, and the floor it is compared with, under
# that CPU quota as the kubelet applies a container's limit (CFS quota per
# 100 ms period); it combines with MEMORY_LIMIT. Each phase reports the
# webhook's CPU per review and the bench's own CPU; each direct phase is
# repeated against the floor, a bare HTTPS server that only decodes the
# review (BENCH_FLAGS=-skip-floor skips it).
SCENARIO ?= L1
WEBHOOK_BIN ?= bin/harvester-network-webhook
OUT ?=
BENCH_FLAGS ?=
MEMORY_LIMIT ?=
CPU_LIMIT ?=

.PHONY: bench
bench: tools build ## Load a scenario (SCENARIO=L1|L10) and measure WEBHOOK_BIN: memory, readiness, admission latency (OUT=file for JSON)
	$(GO) run ./e2e/bench -scenario $(SCENARIO) -webhook-bin $(WEBHOOK_BIN) $(if $(OUT),-out $(OUT)) $(if $(MEMORY_LIMIT),-memory-limit $(MEMORY_LIMIT)) $(if $(CPU_LIMIT),-cpu-limit $(CPU_LIMIT)) $(BENCH_FLAGS)
