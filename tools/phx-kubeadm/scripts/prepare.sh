#!/usr/bin/env bash
# Node preparation, on every node (the reference's Ansible role `common`).
# Sent on stdin to `sudo bash -s` after a header setting PHX_K8S_MINOR
# (1.34) and PHX_K8S_PACKAGE_VERSION (empty, or 1.34.2 to pin). Every step
# checks before it acts, so a prepared node is left as it is; the last line
# says how many steps changed something.
set -euo pipefail
: "${PHX_K8S_MINOR:?}" "${PHX_K8S_PACKAGE_VERSION?}"
export DEBIAN_FRONTEND=noninteractive
changed=0
step() { echo "phx: $*"; changed=$((changed + 1)); }

# Write FILE with CONTENT unless it already holds exactly that.
put() {
    if [[ ! -f $1 ]] || [[ "$(<"$1")" != "$2" ]]; then
        mkdir -p "${1%/*}"
        printf '%s\n' "$2" > "$1"
        return 0
    fi
    return 1
}

# Swap off, now and after a reboot (the kubelet refuses to run with swap).
if grep -Eq '^[^#].*\sswap\s' /etc/fstab 2>/dev/null; then
    sed -Ei 's/^([^#].*\sswap\s.*)$/# \1/' /etc/fstab
    step "swap: commented out of /etc/fstab"
fi
swapoff -a

# Kernel modules for containerd's overlay snapshotter and bridged traffic.
if put /etc/modules-load.d/k8s.conf "$(printf 'overlay\nbr_netfilter')"; then
    step "modules: overlay, br_netfilter persisted"
fi
modprobe overlay
modprobe br_netfilter

if put /etc/sysctl.d/99-kubernetes.conf "$(printf '%s\n' \
    'net.bridge.bridge-nf-call-iptables = 1' \
    'net.bridge.bridge-nf-call-ip6tables = 1' \
    'net.ipv4.ip_forward = 1')"; then
    sysctl --system >/dev/null
    step "sysctl: bridge netfilter and IP forwarding"
fi

# OpenSearch (as Elasticsearch) needs vm.max_map_count >= 262144, or its
# pods crash-loop at start (the reference found it by hand). Every node
# gets it, whatever add-ons are on: it only raises a per-process limit, and
# a node turns into an OpenSearch node whenever the scheduler says so. A
# higher value (newer distributions ship 1048576) is left alone.
max_map_count=262144
if (($(sysctl -n vm.max_map_count) < max_map_count)); then
    put /etc/sysctl.d/99-phx-max-map-count.conf "vm.max_map_count = $max_map_count" || true
    sysctl -p /etc/sysctl.d/99-phx-max-map-count.conf >/dev/null
    step "sysctl: vm.max_map_count = $max_map_count (OpenSearch)"
fi

# containerd with the systemd cgroup driver, as the kubelet expects.
if ! dpkg -s containerd apt-transport-https ca-certificates curl gpg >/dev/null 2>&1; then
    apt-get update -q
    apt-get install -y -q containerd apt-transport-https ca-certificates curl gpg
    step "containerd: installed"
fi
if ! grep -q 'SystemdCgroup = true' /etc/containerd/config.toml 2>/dev/null; then
    mkdir -p /etc/containerd
    containerd config default > /etc/containerd/config.toml
    sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' /etc/containerd/config.toml
    systemctl restart containerd
    step "containerd: SystemdCgroup = true"
fi
systemctl enable --now containerd >/dev/null

# The pkgs.k8s.io repository for this minor version.
keyring=/etc/apt/keyrings/kubernetes-apt-keyring.gpg
repo="deb [signed-by=$keyring] https://pkgs.k8s.io/core:/stable:/v$PHX_K8S_MINOR/deb/ /"
if [[ ! -s $keyring ]] || put /etc/apt/sources.list.d/kubernetes.list "$repo"; then
    mkdir -p /etc/apt/keyrings
    curl -fsSL "https://pkgs.k8s.io/core:/stable:/v$PHX_K8S_MINOR/deb/Release.key" | gpg --dearmor --yes -o "$keyring"
    put /etc/apt/sources.list.d/kubernetes.list "$repo" || true
    apt-get update -q
    step "repository: pkgs.k8s.io v$PHX_K8S_MINOR"
fi

# kubelet, kubeadm, kubectl, held so unattended upgrades leave them alone.
if ! dpkg -s kubelet kubeadm kubectl >/dev/null 2>&1; then
    pin=${PHX_K8S_PACKAGE_VERSION:+=$PHX_K8S_PACKAGE_VERSION-*}
    apt-get install -y -q "kubelet$pin" "kubeadm$pin" "kubectl$pin"
    apt-mark hold kubelet kubeadm kubectl
    step "kubelet, kubeadm, kubectl: installed and held"
fi

# The kubelet defers node addresses and provider IDs to the AWS cloud
# controller manager.
if put /etc/default/kubelet "KUBELET_EXTRA_ARGS=--cloud-provider=external"; then
    step "kubelet: --cloud-provider=external"
fi
systemctl enable kubelet >/dev/null

echo "phx: prepared (changed=$changed)"
