#!/usr/bin/env bash
# kind-bench: upstream's webhook and ours, in-cluster, under one load.
#
# On a machine with Docker, kind and network access (the kind node image and
# upstream's webhook image are pulled), from the repository root, after
# `make image tools bin/kubectl` (`make kind-bench` does all of it):
#   1. create a kind cluster (KIND_CLUSTER, default hnw-bench) unless it exists,
#      and load the image archive into it;
#   2. install the CRDs and manifests/chart with the flag off (upstream's image);
#   3. load the benchmark scenario (SCENARIO, default L1) with e2e/bench;
#   4. restart the webhook and measure it: time until it denies a bad NAD
#      through the API server, then after IDLE seconds (default 60) its peak
#      RSS, RSS, cgroup memory, restarts and last termination reason;
#   5. `helm upgrade --set webhook.lowMemory.enabled=true` and measure again;
#   6. print both reports side by side. The cluster is kept (delete it with
#      `kind delete cluster --name hnw-bench`).
#
# It is the one path CI does not run: kind's node image can be neither pulled
# nor built offline.
set -euo pipefail

cluster=${KIND_CLUSTER:-hnw-bench}
scenario=${SCENARIO:-L1}
idle=${IDLE:-60}
archive=${IMAGE_ARCHIVE:-bin/image/harvester-network-webhook.tar}
helm=${HELM:-bin/helm}
kubectl=${KUBECTL:-bin/kubectl}
ns=harvester-system
node=$cluster-control-plane

for tool in docker kind "$helm" "$kubectl"; do
	command -v "$tool" >/dev/null || { echo "kind-bench: $tool not found" >&2; exit 1; }
done

kubeconfig=$(mktemp -t kind-bench-kubeconfig.XXXXXX)
trap 'rm -f "$kubeconfig"' EXIT
if ! kind get clusters | grep -qx "$cluster"; then
	kind create cluster --name "$cluster" --wait 5m
fi
kind get kubeconfig --name "$cluster" >"$kubeconfig"
export KUBECONFIG=$kubeconfig
kind load image-archive "$archive" --name "$cluster"

"$kubectl" apply --server-side -R -f manifests/crds >/dev/null
"$kubectl" create namespace "$ns" --dry-run=client -o yaml | "$kubectl" apply -f - >/dev/null
"$kubectl" create namespace demo --dry-run=client -o yaml | "$kubectl" apply -f - >/dev/null
"$helm" upgrade --install harvester manifests/chart --namespace "$ns" --set webhook.lowMemory.enabled=false --wait --timeout 10m
E2E_KUBECONFIG=$kubeconfig go run ./e2e/bench -scenario "$scenario" -load-only

# admitting: the API server calls the webhook, which denies VLAN 5000.
admitting() {
	"$kubectl" create --dry-run=server -f manifests/examples/denied/nad-vlan5000.yaml 2>&1 | grep -q "denied the request"
}

# in_node runs a command in the kind node, where the pod's process is.
in_node() { docker exec "$node" "$@"; }

declare -A report
rows=(image ready_seconds peak_rss_mib rss_mib cgroup_mib cgroup_peak_mib restarts last_termination)

# measure LABEL: restart the webhook, time it to admitting (10 min at most),
# wait, read memory.
measure() {
	local label=$1 start tries=0 pod cid pid cgroup status
	"$kubectl" -n "$ns" rollout restart deployment/harvester-network-webhook >/dev/null
	start=$(date +%s%N)
	"$kubectl" -n "$ns" rollout status deployment/harvester-network-webhook --timeout 10m >/dev/null
	until admitting; do
		((++tries < 1200)) || { report[$label,ready_seconds]=timeout; break; }
		sleep 0.5
	done
	: "${report[$label,ready_seconds]:=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')}"
	sleep "$idle"

	# The pod of the new ReplicaSet: the old one may still be terminating.
	pod=$("$kubectl" -n "$ns" get pod -l app.kubernetes.io/name=harvester-network-webhook -o go-template \
		--template '{{range .items}}{{if not .metadata.deletionTimestamp}}{{.metadata.name}}{{"\n"}}{{end}}{{end}}' | head -n 1)
	report[$label,image]=$("$kubectl" -n "$ns" get pod "$pod" -o jsonpath='{.spec.containers[0].image}')
	report[$label,restarts]=$("$kubectl" -n "$ns" get pod "$pod" -o jsonpath='{.status.containerStatuses[0].restartCount}')
	report[$label,last_termination]=$("$kubectl" -n "$ns" get pod "$pod" \
		-o jsonpath='{.status.containerStatuses[0].lastState.terminated.reason}')
	cid=$(in_node crictl ps --label "io.kubernetes.pod.name=$pod" --state running -q | head -n 1)
	pid=$(in_node crictl inspect -o go-template --template '{{.info.pid}}' "$cid")
	status=$(in_node cat "/proc/$pid/status")
	report[$label,peak_rss_mib]=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' <<<"$status")
	report[$label,rss_mib]=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' <<<"$status")
	# cgroup v2 (kind's default on current hosts); v1 has no memory.peak.
	cgroup=/sys/fs/cgroup$(in_node cat "/proc/$pid/cgroup" | awk -F: '$1 == "0" { print $3 }')
	report[$label,cgroup_mib]=$(in_node cat "$cgroup/memory.current" 2>/dev/null | awk '{ printf "%.1f", $1 / 1048576 }')
	report[$label,cgroup_peak_mib]=$(in_node cat "$cgroup/memory.peak" 2>/dev/null | awk '{ printf "%.1f", $1 / 1048576 }')
}

measure upstream
"$helm" upgrade harvester manifests/chart --namespace "$ns" --set webhook.lowMemory.enabled=true --wait --timeout 10m
measure lowmem

printf '\nkind-bench: scenario %s, %ss idle, cluster %s\n' "$scenario" "$idle" "$cluster"
printf '%-18s %-48s %s\n' "" "upstream (flag off)" "low-memory (flag on)"
for row in "${rows[@]}"; do
	printf '%-18s %-48s %s\n' "$row" "${report[upstream,$row]:--}" "${report[lowmem,$row]:--}"
done
