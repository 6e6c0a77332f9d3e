#!/usr/bin/env bash
# chart-bench.sh: the chart in a running cluster, flag off (upstream's image)
# then on (ours), under one load, measured on the node. It is the benchmark
# half that `make kind-bench` (e2e/kind/kind-bench.sh) and `make
# cluster-bench` share: they differ only in how the cluster is made, how the
# images reach its containerd, and NODE_EXEC.
#
# From the repository root, with the images already in the node's
# containerd:
#   KUBECONFIG        the cluster (required)
#   NODE_EXEC         the command prefix that runs a command on the node,
#                     e.g. "docker exec hnw-bench-control-plane"; empty: the
#                     node is this host
#   UPSTREAM_IMAGE    the flag-off half's image: repository:tag (never pulled),
#                     "chart" for the chart's own (pulled), empty to skip the
#                     half and run the flag-on one alone
#   LOWMEM_IMAGE      our image (default ghcr.io/lowmem/harvester-network-webhook:dev), never pulled
#   UPSTREAM_HELM_ARGS, LOWMEM_HELM_ARGS
#                     more helm arguments for a half, split at spaces, e.g.
#                     "--set webhook.resources.limits.memory=128Mi"
#   SCENARIO          the load (default L1), IDLE seconds before reading
#                     memory (default 60), API_DURATION of each admission
#                     phase through the API server (default 20s),
#                     READY_TIMEOUT seconds (default 300), CLUSTER_NAME for
#                     the report, BENCH_DIR for the raw results (default: a
#                     temporary directory, kept)
#
# Steps: the CRDs; the release uninstalled if present; the scenario loaded
# (e2e/bench -load-only); then for each half, `helm upgrade --install` and:
#   - time until the rollout is done (the new pod Ready under its probes)
#     and until the API server's webhook call denies a bad NAD;
#   - after IDLE seconds, the container's working set (usage less inactive
#     file pages, as the kubelet counts it) and the process's RSS;
#   - admission latency through the API server (e2e/bench -api-only), and
#     the container's CPU over it (cpuacct.usage on v1, cpu.stat on v2);
#   - then the container's working set, its cgroup's memory peak
#     (memory.max_usage_in_bytes on cgroup v1, memory.peak on v2), the
#     process's peak RSS (VmHWM), its memory limit, the pod's restarts and
#     last termination reason, the OOM kills of the pod's cgroups in the
#     kernel log (dmesg), and those the kernel counted in the pod's cgroup
#     and its running container's (v1: oom_control's oom_kill, charged to the
#     killed task's cgroup, gone with the container; v2: memory.events
#     oom_kill), and the times the pod's limit was hit (v1: memory.failcnt,
#     each failed charge; v2: memory.events max).
# The report is printed side by side, then each half's latency table.
set -euo pipefail

: "${KUBECONFIG:?chart-bench: set KUBECONFIG to the cluster}"
export KUBECONFIG
scenario=${SCENARIO:-L1}
idle=${IDLE:-60}
api_duration=${API_DURATION:-20s}
timeout=${READY_TIMEOUT:-300}
upstream_image=${UPSTREAM_IMAGE:-}
lowmem_image=${LOWMEM_IMAGE:-ghcr.io/lowmem/harvester-network-webhook:dev}
cluster_name=${CLUSTER_NAME:-$(basename "$KUBECONFIG")}
helm=${HELM:-bin/helm}
kubectl=${KUBECTL:-bin/kubectl}
go=${GO:-go}
ns=harvester-system
release=harvester
deploy=harvester-network-webhook
bad_nad=manifests/examples/denied/nad-vlan5000.yaml

for tool in "$helm" "$kubectl" "$go"; do
	command -v "$tool" >/dev/null || { echo "chart-bench: $tool not found" >&2; exit 1; }
done
dir=${BENCH_DIR:-$(mktemp -d -t chart-bench.XXXXXX)}
mkdir -p "$dir"

log() { printf '==> %s\n' "$*" >&2; }

# in_node CMD...: run CMD on the node.
in_node() {
	local prefix=()
	[[ -z ${NODE_EXEC:-} ]] || read -ra prefix <<<"$NODE_EXEC"
	"${prefix[@]}" "$@"
}

# The bench is built once, so no compiler runs while a webhook is measured.
log "building e2e/bench"
"$go" build -o "$dir/bench" ./e2e/bench

"$kubectl" apply --server-side -R -f manifests/crds >/dev/null
for n in "$ns" demo; do
	"$kubectl" create namespace "$n" --dry-run=client -o yaml | "$kubectl" apply -f - >/dev/null
done
# Each half starts the way a release does: from no pod. The webhook
# configurations the old pod left are removed by the load (e2e/bench).
if "$helm" status "$release" --namespace "$ns" >/dev/null 2>&1; then
	log "uninstalling the release left by an earlier run"
	"$helm" uninstall "$release" --namespace "$ns" --wait --timeout 5m >/dev/null
fi
log "loading scenario $scenario"
E2E_KUBECONFIG=$KUBECONFIG "$dir/bench" -scenario "$scenario" -load-only

# admitting: the API server calls the webhook, which denies VLAN 5000. (The
# create fails when it does: kubectl's status is not the answer.)
admitting() {
	local out
	out=$("$kubectl" create --dry-run=server -f "$bad_nad" 2>&1) || true
	[[ $out == *"denied the request"* ]]
}

# since NANOS: seconds from the date +%s%N NANOS to now.
since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }

mib() { awk -v b="$1" 'BEGIN { if (b == "" || b < 0) print "-"; else printf "%.1f", b / 1048576 }'; }

# pod: the webhook's pod of the current ReplicaSet (an old one may still be
# terminating).
pod() {
	"$kubectl" -n "$ns" get pod -l app.kubernetes.io/name=harvester-network-webhook -o go-template \
		--template '{{range .items}}{{if not .metadata.deletionTimestamp}}{{.metadata.name}}{{"\n"}}{{end}}{{end}}' | head -n 1
}

# The node side of a reading, given the pod's UID (with dashes, and with
# underscores as the systemd driver names its slices) and the container's ID
# (empty when none is known): key=value lines of the pod cgroup's OOM kills
# and limit hits, and, while the container runs, its cgroup's memory and CPU
# and its process's. cgroup v1 or v2, either cgroup driver: the cgroups are
# found by name in the memory hierarchy.
# shellcheck disable=SC2016 # expanded on the node
node_reader='
uid=$1 uid_=$2 cid=$3
base=/sys/fs/cgroup
[ -d "$base/memory" ] && base=$base/memory
pod=$(find "$base" -type d \( -name "*pod$uid" -o -name "*pod$uid_.slice" \) 2>/dev/null | head -n 1)
[ -n "$pod" ] || exit 0
dir=
[ -z "$cid" ] || dir=$(find "$pod" -maxdepth 1 -type d -name "*$cid*" | head -n 1)
# The kernel logs each kill with the cgroups of the limit and of the task;
# the counters below miss the kills of containers since replaced.
if log=$(dmesg 2>/dev/null); then
	echo "oom_kills_log=$(printf "%s\n" "$log" | grep -c -e "oom-kill:.*pod$uid" -e "oom-kill:.*pod$uid_")"
fi
field() { awk -v k="$2" "\$1 == k { print \$2 }" "$1" 2>/dev/null; }
# sum FILE KEY: KEY of FILE in the pod cgroup and each of its containers
# (v1 counts an OOM kill only in the cgroup of the killed task).
sum() { for d in "$pod" "$pod"/*/; do field "${d%/}/$1" "$2"; done | awk "{ s += \$1 } END { print s + 0 }"; }
if [ -f "$pod/memory.max_usage_in_bytes" ]; then
	echo "cgroup=v1"
	echo "oom_kills=$(sum memory.oom_control oom_kill)"
	echo "limit_hits=$(cat "$pod/memory.failcnt")"
	echo "limit=$(cat "${dir:-$pod}/memory.limit_in_bytes")"
	[ -n "$dir" ] || exit 0
	echo "usage=$(cat "$dir/memory.usage_in_bytes")"
	echo "inactive_file=$(field "$dir/memory.stat" total_inactive_file)"
	echo "peak=$(cat "$dir/memory.max_usage_in_bytes")"
else
	echo "cgroup=v2"
	echo "oom_kills=$(field "$pod/memory.events" oom_kill)"
	echo "limit_hits=$(field "$pod/memory.events" max)"
	echo "limit=$(cat "${dir:-$pod}/memory.max")"
	[ -n "$dir" ] || exit 0
	echo "usage=$(cat "$dir/memory.current")"
	echo "inactive_file=$(field "$dir/memory.stat" inactive_file)"
	echo "peak=$(cat "$dir/memory.peak" 2>/dev/null)"
fi
# CPU nanoseconds: cpuacct (v1, its own hierarchy) or cpu.stat (v2).
if [ -f "/sys/fs/cgroup/cpuacct${dir#"$base"}/cpuacct.usage" ]; then
	echo "cpu_ns=$(cat "/sys/fs/cgroup/cpuacct${dir#"$base"}/cpuacct.usage")"
elif [ -f "$dir/cpu.stat" ]; then
	echo "cpu_ns=$(($(field "$dir/cpu.stat" usage_usec) * 1000))"
fi
pid=$(head -n 1 "$dir/cgroup.procs")
[ -z "$pid" ] || awk "/^VmHWM:/ { print \"vmhwm=\" \$2 * 1024 } /^VmRSS:/ { print \"vmrss=\" \$2 * 1024 }" "/proc/$pid/status"
'

# read_node LABEL PHASE: the reading of the current pod into
# node[LABEL,PHASE,key]. The container counts only while it runs: a
# terminated one's cgroup is gone.
declare -A node
read_node() {
	local label=$1 phase=$2 pod uid cid key value
	pod=$(pod)
	[[ -n $pod ]] || return 0
	uid=$("$kubectl" -n "$ns" get pod "$pod" -o jsonpath='{.metadata.uid}')
	cid=$("$kubectl" -n "$ns" get pod "$pod" -o jsonpath='{.status.containerStatuses[0].state.running}{"|"}{.status.containerStatuses[0].containerID}')
	if [[ $cid == "|"* ]]; then
		cid="" # not running
	else
		cid=${cid#*|}
		cid=${cid#*://}
	fi
	while IFS='=' read -r key value; do
		node[$label,$phase,$key]=$value
	done < <(in_node sh -c "$node_reader" node-reader "$uid" "${uid//-/_}" "$cid")
}

# working_set LABEL PHASE: usage less inactive file pages, in MiB.
working_set() {
	local u=${node[$1,$2,usage]:-} i=${node[$1,$2,inactive_file]:-0}
	[[ -n $u ]] || { echo -; return; }
	mib $((u > i ? u - i : 0))
}

declare -A report
rows=(image pod_ready_s admitting_s restarts last_termination oom_kills limit_hits
	limit_mib working_set_idle_mib rss_idle_mib working_set_load_mib cgroup_peak_mib peak_rss_mib)

# half LABEL HELM_ARGS...: install or upgrade the release with HELM_ARGS and
# measure it.
half() {
	local label=$1 start tries=0 pod
	shift
	log "$label: helm upgrade --install $*"
	start=$(date +%s%N)
	"$helm" upgrade --install "$release" manifests/chart --namespace "$ns" "$@" >/dev/null
	if "$kubectl" -n "$ns" rollout status "deployment/$deploy" --timeout "${timeout}s" >/dev/null; then
		report[$label,pod_ready_s]=$(since "$start")
	else
		report[$label,pod_ready_s]="timeout"
	fi
	until admitting; do
		((++tries < timeout * 2)) || { report[$label,admitting_s]=timeout; break; }
		sleep 0.5
	done
	: "${report[$label,admitting_s]:=$(since "$start")}"
	log "$label: pod Ready after ${report[$label,pod_ready_s]} s, admitting after ${report[$label,admitting_s]} s; idle ${idle} s"
	sleep "$idle"
	read_node "$label" idle
	if [[ ${report[$label,admitting_s]} != timeout ]]; then
		log "$label: admission through the API server, $api_duration per operation"
		E2E_KUBECONFIG=$KUBECONFIG "$dir/bench" -scenario "$scenario" -api-only -duration "$api_duration" \
			-out "$dir/api-$label.json" >"$dir/api-$label.txt" || log "$label: the latency phases failed"
	fi
	read_node "$label" load

	pod=$(pod)
	report[$label,image]=$("$kubectl" -n "$ns" get pod "$pod" -o jsonpath='{.spec.containers[0].image}')
	report[$label,restarts]=$("$kubectl" -n "$ns" get pod "$pod" -o jsonpath='{.status.containerStatuses[0].restartCount}')
	report[$label,last_termination]=$("$kubectl" -n "$ns" get pod "$pod" \
		-o jsonpath='{.status.containerStatuses[0].lastState.terminated.reason}')
	report[$label,oom_kills]="${node[$label,load,oom_kills_log]:--} (kernel log), ${node[$label,load,oom_kills]:--} (cgroups)"
	report[$label,limit_hits]=${node[$label,load,limit_hits]:-}
	report[$label,limit_mib]=$(mib "${node[$label,load,limit]:-}")
	report[$label,working_set_idle_mib]=$(working_set "$label" idle)
	report[$label,rss_idle_mib]=$(mib "${node[$label,idle,vmrss]:-}")
	report[$label,working_set_load_mib]=$(working_set "$label" load)
	report[$label,cgroup_peak_mib]=$(mib "${node[$label,load,peak]:-}")
	report[$label,peak_rss_mib]=$(mib "${node[$label,load,vmhwm]:-}")
	# The API rows: p50/p99 ms and requests a second of each operation, and
	# the container's CPU over all of them per request.
	if [[ -f $dir/api-$label.txt ]]; then
		local path op answer requests errors p50 p99 rps total=0
		# path operation answer requests errors unreachable p50 p99 p99.9 req/s ...
		while read -r path op answer requests errors _ p50 p99 _ rps _; do
			[[ $path == apiserver ]] || continue
			report[$label,api_$op]="$p50 / $p99 ms, $rps/s, $answer, $errors errors"
			[[ " ${rows[*]} " == *" api_$op "* ]] || rows+=("api_$op")
			total=$((total + requests))
		done <"$dir/api-$label.txt"
		local from=${node[$label,idle,cpu_ns]:-} to=${node[$label,load,cpu_ns]:-}
		if [[ -n $from && -n $to && $to -ge $from && $total -gt 0 ]]; then
			report[$label,api_cpu]=$(awk -v ns=$((to - from)) -v n="$total" \
				'BEGIN { printf "%.2f s, %.0f µs a request (%d requests)", ns / 1e9, ns / 1e3 / n, n }')
		fi
		[[ " ${rows[*]} " == *" api_cpu "* ]] || rows+=(api_cpu)
	fi
}

read -ra upstream_args <<<"${UPSTREAM_HELM_ARGS:-}"
read -ra lowmem_args <<<"${LOWMEM_HELM_ARGS:-}"
upstream_note=""
case $upstream_image in
"") upstream_note="not run: no upstream image given (UPSTREAM_BIN)" ;;
chart) half upstream --set webhook.lowMemory.enabled=false "${upstream_args[@]}" ;;
*) half upstream --set webhook.lowMemory.enabled=false \
	--set "webhook.image.repository=${upstream_image%:*}" --set "webhook.image.tag=${upstream_image##*:}" \
	--set webhook.image.pullPolicy=Never "${upstream_args[@]}" ;;
esac
half lowmem --set webhook.lowMemory.enabled=true \
	--set "webhook.lowMemory.image.repository=${lowmem_image%:*}" --set "webhook.lowMemory.image.tag=${lowmem_image##*:}" \
	--set webhook.lowMemory.image.pullPolicy=Never "${lowmem_args[@]}"

printf '\nchart-bench: scenario %s, %ss idle, API phases %s, cluster %s, cgroup %s\n' \
	"$scenario" "$idle" "$api_duration" "$cluster_name" "${node[lowmem,load,cgroup]:-?}"
[[ -z $upstream_note ]] || printf 'flag-off half %s\n' "$upstream_note"
printf '%-32s %-56s %s\n' "" "upstream (flag off)" "low-memory (flag on)"
for row in "${rows[@]}"; do
	printf '%-32s %-56s %s\n' "$row" "${report[upstream,$row]:--}" "${report[lowmem,$row]:--}"
done
for label in upstream lowmem; do
	[[ -f $dir/api-$label.txt ]] || continue
	printf '\n%s: admission through the API server\n' "$label"
	cat "$dir/api-$label.txt"
done
printf '\nraw results: %s\n' "$dir"
