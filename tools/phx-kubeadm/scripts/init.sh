#!/usr/bin/env bash
# kubeadm init on the control plane (the reference's role `master`).
# Header: PHX_KUBEADM_CONFIG, the InitConfiguration + ClusterConfiguration
# phx generated; a kubernetesVersion of "installed" means the version of
# the kubeadm the packages brought. An initialized node is left alone.
# kubeadm prints no secret: the bootstrap token and the certificate key are
# withheld (phx makes its own join token when a worker needs one).
set -euo pipefail
: "${PHX_KUBEADM_CONFIG:?}"
if [[ -f /etc/kubernetes/admin.conf ]]; then
    echo "phx: init: already initialized"
    exit 0
fi
config=/etc/kubernetes/phx-kubeadm.yaml
mkdir -p /etc/kubernetes
printf '%s\n' "$PHX_KUBEADM_CONFIG" > "$config"
if grep -q '^kubernetesVersion: installed$' "$config"; then
    sed -i "s/^kubernetesVersion: installed$/kubernetesVersion: $(kubeadm version -o short)/" "$config"
fi
kubeadm init --config "$config" --skip-token-print --skip-certificate-key-print
echo "phx: init: done"
