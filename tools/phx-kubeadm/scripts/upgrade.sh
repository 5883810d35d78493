#!/usr/bin/env bash
# One node's part of a Kubernetes upgrade (kubeadm's documented steps).
# Header: PHX_STEP (kubeadm | kubelet), PHX_K8S_MINOR (1.35: the
# pkgs.k8s.io repository), PHX_K8S_PACKAGE_VERSION (1.35.4 to pin, or empty
# for the repository's newest), PHX_VERSION (v1.35.4, or empty: the
# upgraded kubeadm's own), PHX_FIRST (1 on the first control plane:
# `kubeadm upgrade apply`; else `kubeadm upgrade node`), PHX_UPGRADE_CONFIG
# (the UpgradeConfiguration). Each step can run again: a package at the
# version is not reinstalled, and kubeadm leaves a component already at
# the version as it is.
#   kubeadm: the repository moves to the new minor, kubeadm is upgraded
#            (unheld for it, held again), then `kubeadm upgrade plan` and
#            `apply` (first control plane) or `kubeadm upgrade node`.
#   kubelet: kubelet and kubectl upgraded and held, the kubelet restarted.
set -euo pipefail
: "${PHX_STEP:?}" "${PHX_K8S_MINOR:?}" "${PHX_K8S_PACKAGE_VERSION?}" "${PHX_VERSION?}" "${PHX_FIRST:?}"
: "${PHX_UPGRADE_CONFIG:?}"
export DEBIAN_FRONTEND=noninteractive

# The packages of the new minor, held again once installed.
packages() {
    local keyring=/etc/apt/keyrings/kubernetes-apt-keyring.gpg
    local repo="deb [signed-by=$keyring] https://pkgs.k8s.io/core:/stable:/v$PHX_K8S_MINOR/deb/ /"
    if [[ "$(cat /etc/apt/sources.list.d/kubernetes.list 2>/dev/null)" != "$repo" ]]; then
        mkdir -p /etc/apt/keyrings
        curl -fsSL "https://pkgs.k8s.io/core:/stable:/v$PHX_K8S_MINOR/deb/Release.key" | gpg --dearmor --yes -o "$keyring"
        printf '%s\n' "$repo" > /etc/apt/sources.list.d/kubernetes.list
        echo "phx: repository: pkgs.k8s.io v$PHX_K8S_MINOR"
    fi
    apt-get update -q
    local pin=${PHX_K8S_PACKAGE_VERSION:+=$PHX_K8S_PACKAGE_VERSION-*} p pkgs=()
    for p in "$@"; do pkgs+=("$p$pin"); done
    apt-mark unhold "$@" >/dev/null
    apt-get install -y -q "${pkgs[@]}"
    apt-mark hold "$@" >/dev/null
}

case $PHX_STEP in
    kubeadm)
        packages kubeadm
        version=${PHX_VERSION:-$(kubeadm version -o short)}
        config=$(mktemp /etc/kubernetes/phx-upgrade.XXXXXX)
        trap 'rm -f "$config"' EXIT
        printf '%s\n' "$PHX_UPGRADE_CONFIG" > "$config"
        if [[ $PHX_FIRST == 1 ]]; then
            kubeadm upgrade plan --config "$config" "$version" </dev/null
            # kubeadm asks before it changes anything; --yes cannot go
            # with --config, so the answer comes on its stdin.
            kubeadm upgrade apply --config "$config" "$version" <<<y
        else
            kubeadm upgrade node --config "$config" </dev/null
        fi
        echo "phx: kubeadm: upgraded to $version" ;;
    kubelet)
        packages kubelet kubectl
        systemctl daemon-reload
        systemctl restart kubelet
        echo "phx: kubelet: upgraded and restarted" ;;
    *)
        echo "upgrade.sh: unknown step $PHX_STEP" >&2
        exit 2 ;;
esac
