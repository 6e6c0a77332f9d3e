#!/usr/bin/env bash
# Runs a command with a Docker daemon at hand, for `make image-e2e`. If no
# dockerd is installed it installs Debian's docker.io; if no daemon answers
# it starts one with the vfs storage driver (overlayfs does not work on
# every CI machine, vfs does) and no bridge or iptables (the container uses
# the host's network), and stops it when the command ends. Needs root.
set -euo pipefail

if ! command -v dockerd >/dev/null; then
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io
fi

if ! docker info >/dev/null 2>&1; then
	log=$(mktemp -t dockerd.XXXXXX.log)
	dockerd --storage-driver=vfs --bridge=none --iptables=false --ip6tables=false >"$log" 2>&1 &
	dockerd_pid=$!
	trap 'kill "$dockerd_pid"; wait "$dockerd_pid" || true' EXIT
	for _ in $(seq 60); do
		docker info >/dev/null 2>&1 && break
		kill -0 "$dockerd_pid" 2>/dev/null || { cat "$log"; exit 1; }
		sleep 1
	done
	docker info >/dev/null || { cat "$log"; exit 1; }
	echo "docker-e2e: started dockerd (pid $dockerd_pid, log $log)"
fi
docker version --format 'docker-e2e: client {{.Client.Version}}, daemon {{.Server.Version}}'
"$@"
