#!/usr/bin/env bash
# kubeadm reset, for a redo: the node leaves the cluster and its
# /etc/kubernetes, kubelet and etcd state are removed; packages stay.
set -euo pipefail
if [[ ! -f /etc/kubernetes/kubelet.conf && ! -f /etc/kubernetes/admin.conf ]]; then
    echo "phx: reset: nothing to reset"
    exit 0
fi
kubeadm reset -f
rm -rf /etc/cni/net.d /etc/kubernetes/phx-kubeadm.yaml
echo "phx: reset: done"
