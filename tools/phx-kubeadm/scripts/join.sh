#!/usr/bin/env bash
# kubeadm join on a worker (the reference's role `worker`). Header:
# PHX_JOIN_CONFIG, the JoinConfiguration (endpoint, bootstrap token, CA
# hash, node name). The token reaches the node only on this script's stdin
# and lives only in a root-only file for the join's duration: never on a
# command line (the process list), never left on disk. A joined node is
# left alone.
set -euo pipefail
: "${PHX_JOIN_CONFIG:?}"
if [[ -f /etc/kubernetes/kubelet.conf ]]; then
    echo "phx: join: already joined"
    exit 0
fi
mkdir -p /etc/kubernetes
config=$(mktemp /etc/kubernetes/phx-join.XXXXXX) # mode 0600
trap 'rm -f "$config"' EXIT
# printf is a builtin: the token is never an argument of a process.
printf '%s\n' "$PHX_JOIN_CONFIG" > "$config"
kubeadm join --config "$config"
echo "phx: join: done"
