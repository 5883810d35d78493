#!/usr/bin/env bash
# The two-minute tour, no AWS account needed: bring the local sandbox up,
# deploy the reference cluster with scripts/deploy.sh, show it, destroy it
# with scripts/destroy.sh, show that nothing is left, bring the sandbox
# down. (`just demo` runs this.)
#
# Kubernetes is real when its binaries are built or Go is here to build
# them (scripts/k8s-bins.sh): the real kubeadm, etcd, API server,
# controller manager, scheduler and AWS cloud controller manager. Without
# Go, the demo says so and uses the API stand-in (phx-kube-standin).
# Emulated either way (see scripts/sandbox.sh): AWS is moto, and no
# container runs. The phx tools, the SSH, TLS and AWS API traffic, the
# state locking and the pipelines are the real ones.
set -euo pipefail
case ${1:-} in
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    ?*) echo "demo.sh: takes no arguments (PHX_SANDBOX_DIR chooses where the sandbox lives)" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
export PHX_SANDBOX_DIR=${PHX_SANDBOX_DIR:-/tmp/phx-demo-$(id -u)}
start=$SECONDS

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

real=''
if "$root/scripts/k8s-bins.sh" --check >/dev/null 2>&1 || command -v go >/dev/null || [[ -x /usr/local/go/bin/go ]]; then
    real=1
fi
. "$root/scripts/sandbox/k8s/versions"
if [[ -n $real ]]; then
    cat >&2 <<TEXT
phx demo on the local sandbox, with real Kubernetes. Real here: the phx tools
and pipelines, every AWS API call, the state in S3 with DynamoDB locking, SSH
with verified host keys, and upstream Kubernetes built from source at pinned
versions: kubeadm, etcd $ETCD_VERSION, kube-apiserver, kube-controller-manager,
kube-scheduler and kubectl $KUBERNETES_VERSION, aws-cloud-controller-manager
$CLOUD_PROVIDER_AWS_VERSION. Each node has its own network, and AWS's network
is enforced on it from what moto holds: security groups on every node, public
IPs and the NAT gateway's address on the way out, the load balancers' groups
(this host is the admin at 198.18.0.10, the document's adminCidrs). Simulated:
AWS answers from moto (no machine boots; the sandbox gives each node its
instance's IP, DNS name and metadata; HAProxy carries the load balancers'
traffic), and pods other than the control plane and the cloud controller
manager are reported Running by the sandbox kubelet without running (no
container runtime here, so no pod traffic crosses the network).
TEXT
    step "1/6 the sandbox: moto, 4 nodes with their own network, real Kubernetes binaries"
    "$root/scripts/sandbox.sh" up --real > /dev/null
else
    cat >&2 <<'TEXT'
phx demo on the local sandbox. Go is not installed, so Kubernetes cannot be
built here: the API server is phx-kube-standin (objects and status only), and
apt-get/systemctl/kubelet/kubeadm on the nodes are stand-ins. Real here: the
phx tools and pipelines, every AWS API call, the state in S3 with DynamoDB
locking, SSH with verified host keys, TLS to the API server, the upstream
Calico, Argo CD and cloud controller manager objects. AWS answers from moto.
TEXT
    step "1/6 the sandbox: moto, 4 sshd nodes, the Kubernetes API stand-in"
    "$root/scripts/sandbox.sh" up > /dev/null
fi
trap '"$root/scripts/sandbox.sh" down' EXIT
# shellcheck source=/dev/null
. "$PHX_SANDBOX_DIR/env"
cd "$PHX_SANDBOX_DIR"
# What talks to the API runs where the load balancer's name resolves on
# this host (the real sandbox; a plain run with the stand-in).
hosts=$root/scripts/sandbox/with-hosts.sh
jq '{metadata, spec: {nodes: .spec.nodes | {controlPlane, workers, ssh: {endpoints: .ssh.endpoints}},
     kubernetes: .spec.kubernetes | {apiEndpoint, apiLoadBalancer}, state: .spec.state}}' cluster.json >&2

step "2/6 scripts/deploy.sh cluster.json"
"$hosts" "$root/scripts/deploy.sh" cluster.json

step "3/6 the cluster: phx-nodes list, phx-platform status${real:+, kubectl}"
phx-state pull < cluster.json | phx-nodes list >&2
phx-state pull < cluster.json | "$hosts" phx-platform status >&2
if [[ -n $real ]]; then
    "$hosts" kubectl --kubeconfig kubeconfig version >&2
    "$hosts" kubectl --kubeconfig kubeconfig get nodes -o wide >&2
    "$hosts" kubectl --kubeconfig kubeconfig get pods -A -o wide >&2
fi

step "4/6 scripts/destroy.sh --yes cluster.json"
"$hosts" "$root/scripts/destroy.sh" --yes cluster.json

step "5/6 what is left: the emulator's inventory for the cluster, and the stored status"
left=$("$root/scripts/sandbox.sh" inventory)
echo "inventory: $left" >&2
echo "status:    $(phx-state pull < cluster.json | jq -c '.status | del(.state)')" >&2
[[ $left == '{}' ]] || { echo "demo.sh: LEFT BEHIND: $left" >&2; exit 1; }

step "6/6 done in $((SECONDS - start)) s; bringing the sandbox down"
