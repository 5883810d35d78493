#!/usr/bin/env bash
# kubeadm join on a worker (the reference's role `worker`). Header:
# PHX_API (host:port), PHX_TOKEN, PHX_CA_HASH, PHX_NODE_NAME. The token
# reaches the node only on this script's stdin. A joined node is left alone.
set -euo pipefail
: "${PHX_API:?}" "${PHX_TOKEN:?}" "${PHX_CA_HASH:?}" "${PHX_NODE_NAME:?}"
if [[ -f /etc/kubernetes/kubelet.conf ]]; then
    echo "phx: join: already joined"
    exit 0
fi
kubeadm join "$PHX_API" --token "$PHX_TOKEN" \
    --discovery-token-ca-cert-hash "$PHX_CA_HASH" --node-name "$PHX_NODE_NAME"
echo "phx: join: done"
