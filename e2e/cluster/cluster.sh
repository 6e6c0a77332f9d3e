#!/usr/bin/env bash
# cluster.sh up|down: a one-node Kubernetes cluster on this host, without
# kind or an image registry (`make cluster`, `make cluster-down`).
#
# up, as root, from the repository root, after `make cluster-tools tools
# bin/kubectl` and the pause image (`make cluster` does all of it):
#   - a veth pair into a network namespace of its own (NETNS) gives the node
#     its address, NODE_IP: the kubelet refuses a loopback one, and the node
#     must talk to nothing but this host and the test host it made;
#   - etcd, kube-apiserver, kube-controller-manager and kube-scheduler from
#     bin/, with a CA, certificates and kubeconfigs made here by openssl;
#   - Debian's containerd (CRI, cgroupfs, overlayfs, restrict_oom_score_adj:
#     root here may not lower an oom_score_adj) with the pause image imported,
#     and the kubelet (cgroup v1 allowed);
#   - pods on a bridge (BRIDGE, POD_SUBNET) whose gateway is this host, so the
#     API server and the kubelet reach pod IPs directly: webhooks registered by
#     Service are called at their endpoints (--enable-aggregator-routing).
#     There is no kube-proxy; one DNAT rule makes the kubernetes Service's
#     ClusterIP reach the API server, for clients in pods.
# It writes the admin kubeconfig to CLUSTER_DIR/kubeconfig and waits until the
# node is Ready. Run again while up, it only checks the node.
#
# import ARCHIVE... loads image archives into the node's containerd.
#
# down stops what up started (by the pids it recorded), the containers,
# unmounts, and removes the network, the cgroups, the iptables chain and every
# directory up made; the host sysctls the kubelet changes are put back.
set -euo pipefail

cluster_dir=${CLUSTER_DIR:-bin/cluster}
state=${CLUSTER_STATE:-/var/lib/hnw-cluster}
rundir=${CLUSTER_RUN:-/run/hnw-cluster}
bindir=$(realpath "${BIN_DIR:-bin}")
pause_archive=${PAUSE_ARCHIVE:-bin/image/pause.tar}
pause_image=${PAUSE_IMAGE:-localhost/hnw-pause:v1}
node=${NODE_NAME:-hnw-node}
netns=${NETNS:-hnw-peer}
veth=${VETH:-hnw-node}
bridge=${BRIDGE:-hnw0}
# /30 for the node and its peer, /24 for pods and Services: free on this
# host (checked), and nothing outside it routes them.
node_ip=${NODE_IP:-10.213.0.1}
peer_ip=${PEER_IP:-10.213.0.2}
pod_subnet=${POD_SUBNET:-10.214.0.0/24}
service_subnet=${SERVICE_SUBNET:-10.215.0.0/24}
apiserver_port=${APISERVER_PORT:-6443}
etcd_port=${ETCD_PORT:-32379}
chain=HNW-CLUSTER
cgroup_root=hnw-cluster
# The kubelet sets these at start (it expects a node to panic and reboot);
# down restores what they were.
sysctls=(vm.overcommit_memory kernel.panic kernel.panic_on_oops)

mkdir -p "$cluster_dir"
cluster_dir=$(realpath "$cluster_dir")
pki=$cluster_dir/pki
logs=$cluster_dir/logs
pids=$cluster_dir/pids
sock=$rundir/containerd.sock
kubeconfig=$cluster_dir/kubeconfig

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'cluster: %s\n' "$*" >&2; exit 1; }

# first_ip CIDR: the .1 of a /24 or /30 given as a.b.c.0/n.
first_ip() { local net=${1%/*}; echo "${net%.*}.$((${net##*.} + 1))"; }
service_ip=$(first_ip "$service_subnet")
pod_gateway=$(first_ip "$pod_subnet")

# ----------------------------------------------------------------- processes

# start NAME CMD...: run CMD in a session of its own, its output in
# logs/NAME.log, its pid in pids/NAME.
start() {
	local name=$1
	shift
	setsid "$@" >"$logs/$name.log" 2>&1 </dev/null &
	echo $! >"$pids/$name"
}

# ours NAME: the pid recorded for NAME if that process still runs the binary
# it was started with (a pid may be reused after a crash).
ours() {
	local file=$pids/$1 pid exe
	[[ -f $file ]] || return 1
	pid=$(<"$file")
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	exe=${exe% (deleted)} # rebuilt while it ran
	[[ $exe == *"/$1" ]] || return 1
	echo "$pid"
}

# stop NAME: SIGTERM, then SIGKILL after 10 s.
stop() {
	local pid
	if pid=$(ours "$1"); then
		log "stopping $1 ($pid)"
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do
			[[ -d /proc/$pid ]] || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pids/$1"
}

# wait_for WHAT SECONDS CMD...: retry CMD every half second.
wait_for() {
	local what=$1 tries=$(($2 * 2))
	shift 2
	until "$@" >/dev/null 2>&1; do
		((--tries > 0)) || {
			tail -n 20 "$logs"/*.log >&2
			die "$what: not up in time (logs: $logs; make cluster-down removes what was started)"
		}
		sleep 0.5
	done
}

ctr() { command ctr --address "$sock" --namespace k8s.io "$@"; }
kubectl() { "$bindir/kubectl" --kubeconfig "$kubeconfig" "$@"; }

# ----------------------------------------------------------------- pki

# cert NAME CN [O] [SANS]: a key and a certificate signed by the CA.
cert() {
	local name=$1 cn=$2 org=${3:-} sans=${4:-} subj ext
	subj="/CN=$cn${org:+/O=$org}"
	ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=${sans:+serverAuth,}clientAuth${sans:+
subjectAltName=$sans}"
	openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$name.key"
	openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr"
	openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
		-days 30 -extfile <(printf '%s\n' "$ext") -out "$pki/$name.crt" 2>/dev/null
	rm -f "$pki/$name.csr"
}

# write_kubeconfig FILE CERT: a kubeconfig for the client certificate CERT.
write_kubeconfig() {
	cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: hnw
  cluster:
    server: https://$node_ip:$apiserver_port
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$pki/$2.crt")
    client-key-data: $(base64 -w0 "$pki/$2.key")
contexts:
- name: hnw
  context: {cluster: hnw, user: $2}
current-context: hnw
EOF
	chmod 600 "$1"
}

make_pki() {
	mkdir -p "$pki"
	openssl ecparam -name prime256v1 -genkey -noout -out "$pki/ca.key"
	openssl req -x509 -new -key "$pki/ca.key" -subj /CN=hnw-cluster-ca -days 30 \
		-addext keyUsage=critical,keyCertSign,cRLSign -out "$pki/ca.crt"
	cert apiserver kube-apiserver "" \
		"IP:$node_ip,IP:$service_ip,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost"
	cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
	cert admin admin system:masters
	cert controller-manager system:kube-controller-manager
	cert scheduler system:kube-scheduler
	cert kubelet "system:node:$node" system:nodes
	openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key"
	openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
	write_kubeconfig "$kubeconfig" admin
	for c in controller-manager scheduler kubelet; do
		write_kubeconfig "$cluster_dir/$c.kubeconfig" "$c"
	done
}

# ----------------------------------------------------------------- network

# subnet_free CIDR: no route of this host but the default covers CIDR's first address.
subnet_free() {
	local ip
	ip=$(first_ip "$1")
	! ip -4 route show match "$ip" | grep -qv '^default'
}

make_network() {
	for s in "${node_ip%.*}.0/30" "$pod_subnet" "$service_subnet"; do
		subnet_free "$s" || die "$s is in use on this host: set NODE_IP/PEER_IP, POD_SUBNET or SERVICE_SUBNET"
	done
	log "network: node $node_ip ($veth, peer $peer_ip in netns $netns), pods $pod_subnet on $bridge, Services $service_subnet"
	ip netns add "$netns"
	ip link add "$veth" type veth peer name "$veth-peer" netns "$netns"
	ip addr add "$node_ip/30" dev "$veth"
	ip link set "$veth" up
	ip -n "$netns" addr add "$peer_ip/30" dev "$veth-peer"
	ip -n "$netns" link set "$veth-peer" up
	ip -n "$netns" link set lo up
	# The kubernetes Service, for in-cluster clients: its ClusterIP on 443
	# is the API server. Nothing else has a ClusterIP that works.
	iptables -w -t nat -N "$chain"
	iptables -w -t nat -A "$chain" -d "$service_ip/32" -p tcp --dport 443 \
		-j DNAT --to-destination "$node_ip:$apiserver_port"
	iptables -w -t nat -I PREROUTING -j "$chain" -m comment --comment "hnw cluster: kubernetes Service"
	iptables -w -t nat -I OUTPUT -j "$chain" -m comment --comment "hnw cluster: kubernetes Service"
	# Pods talk to this host and to each other, never beyond: nothing is
	# forwarded from the bridge elsewhere.
	iptables -w -N "$chain"
	iptables -w -A "$chain" -i "$bridge" ! -o "$bridge" -j DROP
	iptables -w -I FORWARD -j "$chain" -m comment --comment "hnw cluster: pods stay on the node"
	mkdir -p "$cluster_dir/cni"
	cat >"$cluster_dir/cni/10-hnw.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "hnw",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$bridge",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$pod_subnet", "gateway": "$pod_gateway"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$state/cni"
      }
    }
  ]
}
EOF
}

# ----------------------------------------------------------------- components

start_control_plane() {
	log "etcd on 127.0.0.1:$etcd_port"
	start etcd "$bindir/etcd" --name=hnw --data-dir="$state/etcd" \
		--listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
		--listen-peer-urls="http://127.0.0.1:$((etcd_port + 1))" --initial-advertise-peer-urls="http://127.0.0.1:$((etcd_port + 1))" \
		--initial-cluster="hnw=http://127.0.0.1:$((etcd_port + 1))" \
		--unsafe-no-fsync=true --quota-backend-bytes=8589934592 --log-level=warn
	wait_for etcd 30 curl -fsS "http://127.0.0.1:$etcd_port/health"

	log "kube-apiserver on $node_ip:$apiserver_port"
	start kube-apiserver "$bindir/kube-apiserver" \
		--etcd-servers="http://127.0.0.1:$etcd_port" \
		--bind-address="$node_ip" --advertise-address="$node_ip" --secure-port="$apiserver_port" \
		--tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
		--client-ca-file="$pki/ca.crt" \
		--kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" \
		--kubelet-client-key="$pki/apiserver-kubelet-client.key" \
		--kubelet-preferred-address-types=InternalIP \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
		--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
		--service-cluster-ip-range="$service_subnet" \
		--enable-aggregator-routing=true \
		--allow-privileged=true --profiling=false
	wait_for kube-apiserver 90 kubectl get --raw /readyz

	log "kube-controller-manager and kube-scheduler"
	start kube-controller-manager "$bindir/kube-controller-manager" \
		--kubeconfig="$cluster_dir/controller-manager.kubeconfig" \
		--authentication-kubeconfig="$cluster_dir/controller-manager.kubeconfig" \
		--authorization-kubeconfig="$cluster_dir/controller-manager.kubeconfig" \
		--bind-address=127.0.0.1 --leader-elect=false \
		--controllers='*,-nodeipam' --use-service-account-credentials=true \
		--root-ca-file="$pki/ca.crt" --service-account-private-key-file="$pki/sa.key" \
		--service-cluster-ip-range="$service_subnet" --profiling=false
	start kube-scheduler "$bindir/kube-scheduler" \
		--kubeconfig="$cluster_dir/scheduler.kubeconfig" \
		--authentication-kubeconfig="$cluster_dir/scheduler.kubeconfig" \
		--authorization-kubeconfig="$cluster_dir/scheduler.kubeconfig" \
		--bind-address=127.0.0.1 --leader-elect=false --profiling=false
}

start_containerd() {
	mkdir -p "$rundir" "$state/containerd"
	cat >"$cluster_dir/containerd.toml" <<EOF
version = 2
root = "$state/containerd"
state = "$rundir/containerd"

[grpc]
  address = "$sock"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  # Root here cannot lower an oom_score_adj; the kubelet asks -998 for
  # sandboxes, and runc then fails every one.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  # Pod network namespaces under the state directory, not /run/netns, so
  # that down finds every one of them.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$cluster_dir/cni"
EOF
	log "containerd on $sock"
	start containerd containerd --config "$cluster_dir/containerd.toml"
	wait_for containerd 30 ctr version
	log "importing $pause_archive as $pause_image"
	ctr images import "$pause_archive" >/dev/null
	ctr images ls -q | grep -qx "$pause_image" || die "$pause_archive does not hold $pause_image"
}

start_kubelet() {
	local s
	: >"$cluster_dir/sysctl.orig"
	for s in "${sysctls[@]}"; do
		echo "$s=$(sysctl -n "$s")" >>"$cluster_dir/sysctl.orig"
	done
	# The kubelet's pods go under a cgroup of their own in every v1
	# hierarchy (or the v2 one), which down removes.
	for s in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
		[[ -f $s/cgroup.procs && ! -L ${s%/} ]] && mkdir -p "$s$cgroup_root"
	done
	mkdir -p "$state/kubelet" "$state/pod-logs"
	echo "nameserver 127.0.0.1" >"$cluster_dir/resolv.conf"
	cat >"$cluster_dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $node_ip
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $pki/ca.crt
authorization:
  mode: Webhook
cgroupDriver: cgroupfs
cgroupRoot: /$cgroup_root
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$sock
imageServiceEndpoint: unix://$sock
podLogsDir: $state/pod-logs
clusterDomain: cluster.local
# No DNS server: pods resolve nothing, and send nothing off the node.
resolvConf: $cluster_dir/resolv.conf
maxPods: 30
# A test node on a shared disk: evict only when the machine is nearly out,
# and never collect the images that cannot be pulled again.
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
	log "kubelet (node $node, $node_ip)"
	start kubelet "$bindir/kubelet" --config="$cluster_dir/kubelet.yaml" \
		--kubeconfig="$cluster_dir/kubelet.kubeconfig" --root-dir="$state/kubelet" \
		--hostname-override="$node" --node-ip="$node_ip" --v=1
}

node_ready() {
	[[ $(kubectl get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

up() {
	[[ $EUID -eq 0 ]] || die "needs root (network, mounts, cgroups)"
	for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
		[[ -x $bindir/$b ]] || die "$bindir/$b missing: make cluster-tools tools bin/kubectl"
	done
	for b in containerd runc openssl iptables curl; do
		command -v "$b" >/dev/null || die "$b missing: apt-get install containerd runc openssl iptables curl"
	done
	[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] || die "no CNI plugins in /usr/lib/cni: apt-get install containernetworking-plugins"
	if ours kube-apiserver >/dev/null; then
		wait_for "node $node Ready" 120 node_ready
		log "already up: KUBECONFIG=$kubeconfig"
		return
	fi
	[[ ! -e $state && ! -e $rundir ]] || die "$state or $rundir is left from an earlier run: make cluster-down"
	local began
	began=$(date +%s%N)
	mkdir -p "$logs" "$pids" "$state"
	make_pki
	make_network
	start_control_plane
	start_containerd
	start_kubelet
	wait_for "node $node Ready" 120 node_ready
	log "node $node Ready $(awk -v a="$began" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }') s after start; KUBECONFIG=$kubeconfig"
}

# ----------------------------------------------------------------- down

# containerd_pids: containerd and its shims, found by our socket.
shim_pids() {
	local p
	for p in /proc/[0-9]*; do
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "containerd-shim.* -address $sock" && echo "${p#/proc/}"
	done
	return 0
}

# unmount_under DIR: every mount below DIR, deepest first.
unmount_under() {
	local m
	awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
}

# remove_cgroups DIR: DIR and its children, deepest first (empty by now).
remove_cgroups() {
	[[ -d $1 ]] || return 0
	find "$1" -depth -type d -exec rmdir {} + 2>/dev/null || true
	[[ ! -d $1 ]] || log "cgroup $1 is still there (a process left in it?)"
}

down() {
	[[ $EUID -eq 0 ]] || die "needs root"
	stop kube-scheduler
	stop kube-controller-manager
	stop kubelet
	if ours containerd >/dev/null; then
		local task
		for task in $(ctr tasks ls -q 2>/dev/null); do
			ctr tasks kill -s SIGKILL "$task" 2>/dev/null || true
		done
		sleep 1
		for task in $(ctr tasks ls -q 2>/dev/null); do
			ctr tasks delete -f "$task" >/dev/null 2>&1 || true
		done
	fi
	stop containerd
	local pid
	for pid in $(shim_pids); do
		log "stopping shim $pid"
		kill -KILL "$pid" 2>/dev/null || true
	done
	stop kube-apiserver
	stop etcd
	unmount_under "$rundir"
	unmount_under "$state"
	if [[ -f $cluster_dir/sysctl.orig ]]; then
		log "restoring $(tr '\n' ' ' <"$cluster_dir/sysctl.orig")"
		sysctl -q -p "$cluster_dir/sysctl.orig"
	fi
	local dir
	for dir in /sys/fs/cgroup/*/"$cgroup_root" /sys/fs/cgroup/"$cgroup_root"; do
		remove_cgroups "$dir"
	done
	ip link del "$bridge" 2>/dev/null || true
	ip link del "$veth" 2>/dev/null || true
	ip netns del "$netns" 2>/dev/null || true
	local hook
	for hook in PREROUTING OUTPUT; do
		while iptables -w -t nat -D "$hook" -j "$chain" -m comment --comment "hnw cluster: kubernetes Service" 2>/dev/null; do :; done
	done
	while iptables -w -D FORWARD -j "$chain" -m comment --comment "hnw cluster: pods stay on the node" 2>/dev/null; do :; done
	local table
	for table in nat filter; do
		iptables -w -t "$table" -F "$chain" 2>/dev/null || true
		iptables -w -t "$table" -X "$chain" 2>/dev/null || true
	done
	rm -rf "$state" "$rundir" "$cluster_dir"
	log "down"
}

# import ARCHIVE...: image archives into the node's containerd, where pods
# with imagePullPolicy Never find them (kind load image-archive, here).
import() {
	ours containerd >/dev/null || die "the cluster is not up: make cluster"
	local a
	for a in "$@"; do
		log "importing $a"
		ctr images import "$a" >/dev/null
	done
}

case ${1:-} in
up) up ;;
down) down ;;
import) shift; import "$@" ;;
*) die "usage: $0 up | down | import ARCHIVE..." ;;
esac
