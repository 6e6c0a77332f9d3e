#!/usr/bin/env bash
# kind-bench: upstream's webhook and ours, in-cluster, under one load.
#
# On a machine with Docker, kind and network access (the kind node image and,
# without UPSTREAM_ARCHIVE, upstream's webhook image are pulled), from the
# repository root, after `make image tools bin/kubectl` (`make kind-bench`
# does all of it):
#   1. create a kind cluster (KIND_CLUSTER, default hnw-bench) unless it exists,
#      and load our image archive into it, and UPSTREAM_ARCHIVE (an image of
#      UPSTREAM_IMAGE, packed by `make image IMAGE_BIN=...`) when given;
#   2. run e2e/cluster/chart-bench.sh, the half `make cluster-bench` shares:
#      the scenario (SCENARIO, default L1) loaded, the chart installed flag
#      off (upstream's image) then on (ours), each measured on the node,
#      through `docker exec`, and printed side by side. The cluster is kept
#      (delete it with `kind delete cluster --name hnw-bench`).
#
# It is the one path CI does not run: kind's node image can be neither pulled
# nor built offline.
set -euo pipefail

cluster=${KIND_CLUSTER:-hnw-bench}
archive=${IMAGE_ARCHIVE:-bin/image/harvester-network-webhook.tar}
upstream_archive=${UPSTREAM_ARCHIVE:-}

command -v docker >/dev/null || { echo "kind-bench: docker not found" >&2; exit 1; }
command -v kind >/dev/null || { echo "kind-bench: kind not found" >&2; exit 1; }

kubeconfig=$(mktemp -t kind-bench-kubeconfig.XXXXXX)
trap 'rm -f "$kubeconfig"' EXIT
if ! kind get clusters | grep -qx "$cluster"; then
	kind create cluster --name "$cluster" --wait 5m
fi
kind get kubeconfig --name "$cluster" >"$kubeconfig"
for a in "$archive" ${upstream_archive:+"$upstream_archive"}; do
	kind load image-archive "$a" --name "$cluster"
done

# Without an upstream archive the flag-off half runs the chart's own image,
# pulled by the node.
upstream_image=chart
if [[ -n $upstream_archive ]]; then
	upstream_image=${UPSTREAM_IMAGE:?UPSTREAM_IMAGE names the image of UPSTREAM_ARCHIVE}
fi
KUBECONFIG=$kubeconfig NODE_EXEC="docker exec $cluster-control-plane" CLUSTER_NAME="kind $cluster" \
	UPSTREAM_IMAGE=$upstream_image e2e/cluster/chart-bench.sh
