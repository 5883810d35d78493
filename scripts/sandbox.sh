#!/usr/bin/env bash
# The local sandbox: the whole phx pipeline on this machine, no AWS account.
#
# usage: scripts/sandbox.sh up [--nodes N] [--control-planes K] [--real]
#                                            start it (N sandbox nodes, default 4,
#                                            the first K (1, 3, 5: default 1) named
#                                            and counted as control planes;
#                                            --real: real Kubernetes, see below)
#        scripts/sandbox.sh env              print the environment to use it
#        scripts/sandbox.sh down             stop it and remove its files
#        scripts/sandbox.sh status           say what runs
#        scripts/sandbox.sh stop-node|start-node N   take node N (from 1) down or up
#        scripts/sandbox.sh inventory        what the emulator holds for the cluster (JSON)
#        scripts/sandbox.sh reset            fresh nodes and an empty API server (AWS kept)
# PHX_SANDBOX_VPC_CIDR: the real sandbox's VPC (default 10.0.0.0/16).
# The sandbox lives in $PHX_SANDBOX_DIR (default /tmp/phx-sandbox-$UID: not
# under /home, /root, /var... which the nodes overlay).
#
# What is real and what is emulated:
#   - AWS is moto (the AWS emulator) on 127.0.0.1: every EC2, IAM, S3 and
#     DynamoDB call the tools make is a real API call, answered by moto.
#   - The nodes are real OpenSSH sshd processes on 127.0.0.11 and up, each
#     in a mount namespace of its own with overlays over /etc, /usr, /var...
#     The commands that would change a kernel or install packages (apt-get,
#     sysctl, modprobe, systemctl, containerd, kubelet, kubeadm) are
#     stand-ins that record their calls and write what the real ones would.
#   - The Kubernetes API server is phx-kube-standin: TLS with its own
#     cluster CA and admin certificate, discovery, server-side apply, and
#     controllers reduced to status (nodes turn Ready, Deployments roll out,
#     Argo CD Applications sync). No container ever runs.
# With --real (or PHX_SANDBOX_REAL=1), Kubernetes is real: each node is a
# small machine with a network namespace of its own (a veth to a bridge in
# a VPC namespace the sandbox makes: the host's network is not touched),
# the real kubeadm, and the sandbox kubelet (phx-sandbox-kubelet) running
# kubeadm's static pods (the real etcd, API server, controller manager and
# scheduler, built by scripts/k8s-bins.sh) and the AWS cloud controller
# manager as processes; other pods are simulated (reported Running, not
# run). scripts/sandbox/agent.py plays EC2: instance IPs and DNS names,
# the metadata service, the forwards to the host, and HAProxy carrying the
# API load balancer's traffic to the registered control planes (the
# emulator's load balancer is only a record).
#
# The cluster document it writes ($PHX_SANDBOX_DIR/cluster.json) reaches the
# nodes and the API only through settings real users have too:
# spec.nodes.ssh.endpoints (port forwards, a NAT) and, with the API stand-in,
# spec.kubernetes.apiEndpoint (a DNS name or load balancer in front of the
# API server). The real sandbox's API is its load balancer's DNS name, which
# resolves on this host only for commands run through
# scripts/sandbox/with-hosts.sh (the host's /etc/hosts is never written).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
dir=${PHX_SANDBOX_DIR:-/tmp/phx-sandbox-$(id -u)}
name=sandbox

say() { printf 'sandbox.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

free_port() { # address
    python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$1"
}

alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_until() { # seconds command...
    local secs=$1
    shift
    for _ in $(seq $((secs * 10))); do
        "$@" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

wait_for() { # what seconds command...
    local what=$1 secs=$2
    shift 2
    wait_until "$secs" "$@" || die "$what did not start within $secs s (see the logs in $dir)"
}

ssh_banner() { # address port
    local b
    # shellcheck disable=SC2016 # expanded by the inner shell
    b=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"; head -c 7 <&3' _ "$1" "$2") && [[ $b == SSH-2.0 ]]
}

# The binaries: from PATH when installed, else built from this checkout.
bindir() {
    local s
    if s=$(command -v phx-kube-standin); then dirname "$s"; return; fi
    local target=${CARGO_TARGET_DIR:-$root/target}
    if [[ ! -x $target/debug/phx-kube-standin || ! -x $target/debug/phx-state ]]; then
        say "building the phx tools and the API stand-in (cargo build --bins)"
        (cd "$root" && cargo build -q --workspace --bins) >&2
    fi
    echo "$target/debug"
}

# Never remove a directory the sandbox did not make.
ours() {
    [[ ! -e $dir || -f $dir/.phx-sandbox || -z $(ls -A "$dir") ]] ||
        die "$dir exists and is not a phx sandbox: not touching it (set PHX_SANDBOX_DIR)"
}

# Node I (from 1) of $dir/nodes/list: its sshd in a namespace of its own.
start_node() {
    local i=$1 addr port
    read -r addr port < <(sed -n "${i}p" "$dir/nodes/list")
    [[ -n $addr ]] || die "no node $i"
    if real; then
        PHX_SANDBOX_K8S=$(k8s_bin) PHX_SANDBOX_KUBELET="$dir/kubelet" \
            PHX_SANDBOX_IMAGES="$dir/images" PHX_SANDBOX_HOSTS="$dir/hosts" \
            setsid ip netns exec "$(prefix)-n$i" "$here/sandbox/node.sh" "$dir/nodes/n$i" 0.0.0.0 22 \
            </dev/null >/dev/null 2>"$dir/nodes/n$i/sshd.log" &
    else
        PHX_SANDBOX_PKI="$dir/api/pki" PHX_SANDBOX_API=$(cat "$dir/api/address") \
            setsid "$here/sandbox/node.sh" "$dir/nodes/n$i" "$addr" "$port" \
            </dev/null >/dev/null 2>"$dir/nodes/n$i/sshd.log" &
    fi
    echo $! > "$dir/nodes/n$i/pid"
}

# Kill a process group and wait until it is gone (its port free again).
kill_group() { # pidfile
    local pid
    pid=$(cat "$1")
    kill -KILL -- "-$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 -- "-$pid" 2>/dev/null || return 0
        sleep 0.05
    done
    die "process group $pid did not exit"
}

stop_node() {
    local f=$dir/nodes/n$1/pid pid
    [[ -f $f ]] || die "no node $1"
    kill_group "$f"
    # A machine stops with all it runs (kubelet, static pods).
    if real; then kill_ns "$(prefix)-n$1"; fi
}

start_api() {
    rm -f "$dir/api/address"
    setsid "$(bindir)/phx-kube-standin" --dir "$dir/api" ${1:+--listen "$1"} \
        </dev/null >/dev/null 2>>"$dir/api/standin.log" &
    echo $! > "$dir/api.pid"
    wait_for "the API stand-in" 30 test -s "$dir/api/address"
}

wait_nodes() {
    local a p
    while read -r a p; do
        wait_for "sandbox node $a:$p" 30 ssh_banner "$a" "$p"
    done < "$dir/nodes/list"
}

# The real-Kubernetes sandbox's network namespaces: named for this
# sandbox directory, so two sandboxes never meet and leftovers of a crash
# are found again.
prefix() { printf 'phxsb-%s' "$(printf '%s' "$dir" | sha256sum | cut -c1-6)"; }
real() { [[ -f $dir/net ]]; }

# The host-side address of the API load balancer: a loopback address of
# this sandbox's own (127.100-199.x.y, from the same hash), where HAProxy
# listens on 6443 and the load balancer's name resolves in hosts.host.
lb_host() {
    local h
    h=$(printf '%s' "$dir" | sha256sum)
    printf '127.%d.%d.%d' $((100 + 16#${h:0:2} % 100)) $((16#${h:2:2})) $((1 + 16#${h:4:2} % 254))
}

# Every process in network namespace NS killed, and gone (its ports free).
kill_ns() { # ns
    local pid
    for _ in $(seq 50); do
        pid=$(ip netns pids "$1" 2>/dev/null) || return 0
        [[ -n $pid ]] || return 0
        # shellcheck disable=SC2086 # one pid per word
        kill -KILL $pid 2>/dev/null || true
        sleep 0.1
    done
    die "processes in $1 did not exit"
}

net_down() {
    local p ns
    p=$(prefix)
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$p-" || true); do
        kill_ns "$ns"
        ip netns delete "$ns" 2>/dev/null || true
    done
}

# Refuse a VPC CIDR the host already uses (an address or a route in it).
check_cidr() { # cidr
    python3 - "$1" <<'PY' || die "the VPC CIDR $1 overlaps an address or route of the host: not starting (set spec.network.vpcCidr)"
import ipaddress, json, subprocess, sys
vpc = ipaddress.ip_network(sys.argv[1])
def ip(*args):
    return json.loads(subprocess.run(["ip", "-4", "-j", *args], capture_output=True, text=True).stdout or "[]")
nets = [ipaddress.ip_interface(f"{a['local']}/{a['prefixlen']}").network
        for i in ip("addr") for a in i.get("addr_info", [])]
for r in ip("route", "show", "table", "all"):
    try:
        nets.append(ipaddress.ip_network(r.get("dst", ""), strict=False))
    except ValueError:
        pass  # default, or not an address
sys.exit(1 if any(n.prefixlen > 0 and n.overlaps(vpc) for n in nets) else 0)
PY
}

# The VPC namespace (a bridge with the router's address and the metadata
# service's) and one namespace per node, its eth0 on the bridge.
net_up() { # cidr nodes
    local p router i
    p=$(prefix)
    router=$(python3 -c 'import ipaddress,sys; n=ipaddress.ip_network(sys.argv[1]); print(f"{n.network_address+2}/{n.prefixlen}")' "$1")
    ip netns add "$p-vpc"
    ip -n "$p-vpc" link set lo up
    ip -n "$p-vpc" link add br0 type bridge
    ip -n "$p-vpc" addr add "$router" dev br0
    ip -n "$p-vpc" addr add 169.254.169.254/32 dev br0
    ip -n "$p-vpc" link set br0 up
    # The internet: a namespace of its own behind the internet gateway (a
    # veth from the router), with the sandbox's public range
    # (scripts/sandbox/awsnet.py: the admin, a stranger, the AWS API, the
    # internet-facing load balancers); both route, in their namespaces only.
    ip netns add "$p-inet"
    ip -n "$p-inet" link set lo up
    ip -n "$p-vpc" link add igw type veth peer name vpc netns "$p-inet"
    ip -n "$p-vpc" addr add 169.254.0.1/30 dev igw
    ip -n "$p-inet" addr add 169.254.0.2/30 dev vpc
    ip -n "$p-vpc" link set igw up
    ip -n "$p-inet" link set vpc up
    ip -n "$p-vpc" route add default via 169.254.0.2 dev igw
    ip -n "$p-inet" route add default via 169.254.0.1 dev vpc
    local a
    for a in 198.18.0.5 198.18.0.10 198.18.0.66; do ip -n "$p-inet" addr add "$a/32" dev lo; done
    ip netns exec "$p-vpc" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
    ip netns exec "$p-inet" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
    for i in $(seq 1 "$2"); do
        ip netns add "$p-n$i"
        ip -n "$p-n$i" link set lo up
        ip -n "$p-vpc" link add "n$i" type veth peer name eth0 netns "$p-n$i"
        ip -n "$p-vpc" link set "n$i" master br0 up
        ip -n "$p-n$i" link set eth0 up
    done
}

k8s_bin() { echo "${PHX_K8S_DIR:-$HOME/.cache/phx/k8s}/$(sed -n 's/^KUBERNETES_VERSION=//p' "$here/sandbox/k8s/versions")/bin"; }

# As if the nodes were new machines and the cluster new: every node
# restarted with empty overlays, the API server restarted empty on the
# same address with the same CA. AWS (and so the state) is kept.
reset() {
    real && die "reset: not available in the real-Kubernetes sandbox (down, then up)"
    alive "$dir/api.pid" || die "not up (scripts/sandbox.sh up)"
    local api i n
    api=$(cat "$dir/api/address")
    n=$(wc -l < "$dir/nodes/list")
    for i in $(seq 1 "$n"); do stop_node "$i"; done
    kill_group "$dir/api.pid"
    start_api "$api"
    for i in $(seq 1 "$n"); do
        : > "$dir/nodes/n$i/calls.log"
        start_node "$i"
    done
    wait_nodes
}

up() {
    local nodes=4 control_planes=1 with_real=${PHX_SANDBOX_REAL:-}
    while [[ $# -gt 0 ]]; do
        case $1 in
            --nodes) nodes=$2; shift ;;
            --control-planes) control_planes=$2; shift ;;
            --real) with_real=1 ;;
            *) die "up: unknown option $1" ;;
        esac
        shift
    done
    [[ $nodes =~ ^[0-9]+$ && $nodes -ge 2 && $nodes -le 50 ]] || die "up: --nodes must be 2..50"
    [[ $control_planes =~ ^[1357]$ && $control_planes -lt $nodes ]] ||
        die "up: --control-planes must be 1, 3, 5 or 7 and fewer than --nodes"
    if alive "$dir/moto.pid"; then
        say "already up in $dir (scripts/sandbox.sh down first to start afresh)"
        cat "$dir/env"
        return
    fi
    local venv bin
    venv=$("$root/scripts/prereqs.sh")
    bin=$(bindir)
    ours
    net_down
    rm -rf "$dir"
    mkdir -p "$dir/api" "$dir/nodes" "$dir/cache"
    touch "$dir/.phx-sandbox"
    local cidr=${PHX_SANDBOX_VPC_CIDR:-10.0.0.0/16}
    if [[ -n $with_real ]]; then
        "$root/scripts/k8s-bins.sh" >/dev/null || die "the Kubernetes binaries could not be built (Go missing?): up without --real uses the API stand-in"
        check_cidr "$cidr"
    fi
    ssh-keygen -q -t ed25519 -N '' -C phx-sandbox -f "$dir/id_ed25519"

    # The AWS emulator (requests serialized so conditional writes are atomic,
    # as DynamoDB's are), with a Canonical Ubuntu 24.04 image listed. Its
    # start is slow on a busy machine (Python imports): waited for below.
    local aws_port
    aws_port=$(free_port 127.0.0.1)
    (cd "$dir" && exec env MOTO_AMIS_PATH="$here/sandbox/amis.json" MOTO_IAM_LOAD_MANAGED_POLICIES=true \
        MOTO_ENABLE_AMI_VALIDATION=true MOTO_ENABLE_KEYPAIR_VALIDATION=true \
        MOTO_RECORDER_FILEPATH="$dir/moto.recording" \
        setsid "$venv/bin/python" "$here/sandbox/moto_serial.py" -H 127.0.0.1 -p "$aws_port" \
        </dev/null >"$dir/moto.log" 2>&1) &
    echo $! > "$dir/moto.pid"

    local api
    if [[ -n $with_real ]]; then
        # Nodes with the real Kubernetes: their network, their images (the
        # built binaries, named as the images are), the VPC's hosts file.
        net_up "$cidr" "$nodes"
        mkdir -p "$dir/images/provider-aws"
        local b
        for b in etcd kube-apiserver kube-controller-manager kube-scheduler; do ln -s "$(k8s_bin)/$b" "$dir/images/$b"; done
        # By tag too, for every version built (the next minor's for the
        # upgrade tests): a manifest kubeadm rewrites runs the new version.
        local vdir v
        for vdir in "$(dirname "$(dirname "$(k8s_bin)")")"/v*/bin; do
            v=$(basename "$(dirname "$vdir")")
            for b in kube-apiserver kube-controller-manager kube-scheduler; do
                if [[ -x $vdir/$b ]]; then ln -s "$vdir/$b" "$dir/images/$b:$v"; fi
            done
        done
        ln -s "$(k8s_bin)/aws-cloud-controller-manager" "$dir/images/provider-aws/cloud-controller-manager"
        # The etcd image's tools, where ctr (the stand-in) finds an image's files.
        mkdir -p "$dir/images/etcd.rootfs/usr/local/bin"
        for b in etcdctl etcdutl; do ln -s "$(k8s_bin)/$b" "$dir/images/etcd.rootfs/usr/local/bin/$b"; done
        echo "127.0.0.1 localhost" > "$dir/hosts"
        # A copy: the nodes see /root (where cargo builds) through an overlay,
        # which would keep showing them a binary rebuilt since.
        cp "$bin/phx-sandbox-kubelet" "$dir/kubelet"
        api=127.0.0.1:$(free_port 127.0.0.1)
    else
        # The Kubernetes API stand-in, with the cluster PKI the nodes' kubeadm uses.
        start_api
        api=$(cat "$dir/api/address")
    fi

    local i addr port node endpoints='{}'
    : > "$dir/known_hosts"
    for i in $(seq 1 "$nodes"); do
        addr=127.0.0.$((10 + i))
        port=$(free_port "$addr")
        mkdir -p "$dir/nodes/n$i"
        cp "$dir/id_ed25519.pub" "$dir/nodes/n$i/authorized_keys"
        echo "$addr $port" >> "$dir/nodes/list"
        if [[ $i -le $control_planes ]]; then node=$name-control-plane-$i; else node=$name-worker-$((i - control_planes)); fi
        endpoints=$(jq -c --arg n "$node" --arg e "$addr:$port" '. + {($n): $e}' <<< "$endpoints")
    done
    if [[ -n $with_real ]]; then
        jq -n --arg prefix "$(prefix)" --arg cidr "$cidr" --argjson awsPort "$aws_port" --arg scripts "$root/scripts" \
            --arg api "$api" --arg lbHost "$(lb_host)" --argjson endpoints "$endpoints" --rawfile list "$dir/nodes/list" '
            ($endpoints | to_entries | sort_by(.value | split(":")[0] | split(".")[3] | tonumber)) as $e
            | {prefix: $prefix, cidr: $cidr, awsPort: $awsPort, scripts: $scripts, api: $api, lbHost: $lbHost,
               nodes: ($e | to_entries | map({key: (.key + 1 | tostring), value: .value.key}) | from_entries),
               ssh: ($e | to_entries | map({key: (.key + 1 | tostring), value: .value.value}) | from_entries)}' > "$dir/net"
    fi
    for i in $(seq 1 "$nodes"); do start_node "$i"; done

    wait_until 120 curl -sf -o /dev/null "http://127.0.0.1:$aws_port/moto-api/" ||
        die "moto did not start within 120 s: $(tail -3 "$dir/moto.log" | tr '\n' ' ')"
    if real; then
        # The EC2 side (instance addresses, metadata service, forwards).
        # PHX_SANDBOX_NETWORK=open: AWS's network not enforced (only for
        # scripts/bench-network.sh's peer run).
        (cd "$dir" && exec env AWS_ENDPOINT_URL="http://127.0.0.1:$aws_port" AWS_ACCESS_KEY_ID=sandbox \
            AWS_SECRET_ACCESS_KEY=sandbox AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
            PHX_SANDBOX_NETWORK="${PHX_SANDBOX_NETWORK:-}" setsid "$venv/bin/python" "$here/sandbox/agent.py" "$dir" </dev/null >/dev/null 2>"$dir/agent.log") &
        echo $! > "$dir/agent.pid"
        wait_for "the sandbox agent" 30 test -f "$dir/agent.ready"
    fi
    wait_nodes
    # The nodes' host keys, known before the first connection: verified,
    # not trusted on first use.
    local a p
    for i in $(seq 1 "$nodes"); do
        read -r a p < <(sed -n "${i}p" "$dir/nodes/list")
        printf '[%s]:%s %s\n' "$a" "$p" "$(cut -d' ' -f1,2 "$dir/nodes/n$i/ssh_host_ed25519_key.pub")" >> "$dir/known_hosts"
    done

    local mirror=${PHX_ARTIFACT_MIRROR:-}
    [[ -z $mirror && -f $root/../shared/artifacts/index.json ]] && mirror=$(cd "$root/../shared/artifacts" && pwd)
    cat > "$dir/env" <<ENV
# The phx sandbox ($dir): source this file.
export AWS_ENDPOINT_URL=http://127.0.0.1:$aws_port
export AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN
export PHX_SANDBOX_DIR=$dir
export PHX_CACHE_DIR=$dir/cache
export PHX_KNOWN_HOSTS=$dir/known_hosts
export PHX_KUBECONFIG_OUT=$dir/kubeconfig
export PATH=$bin:\$PATH
ENV
    if real; then echo "export PATH=$(k8s_bin):\$PATH PHX_SANDBOX_REAL=1" >> "$dir/env"; fi
    [[ -n $mirror ]] && echo "export PHX_ARTIFACT_MIRROR=$mirror" >> "$dir/env"

    # The cluster document: the reference topology, state in the emulator's
    # S3 with DynamoDB locking, nodes and API reached through the overrides.
    (
        # shellcheck source=/dev/null
        . "$dir/env"
        phx-state new --name "$name" --region us-east-1 |
            jq --arg user "$(id -un)" --arg key "$dir/id_ed25519" --arg api "$api" --argjson endpoints "$endpoints" \
                --argjson cps "$control_planes" '
              .spec.state = {bucket: "phx-sandbox-state", lockTable: "phx-sandbox-locks"}
            | .spec.nodes.controlPlane.count = $cps
            | .spec.network.adminCidrs = ["127.0.0.1/32"]
            | .spec.nodes.ssh = {user: $user, publicKeyFile: ($key + ".pub"), privateKeyFile: $key, endpoints: $endpoints}
            | .spec.kubernetes.apiEndpoint = $api' > "$dir/cluster.json"
        if real; then
            # No CRI here: kubeadm skips its preflight (which pulls images);
            # no Argo CD controller runs to sync add-on Applications. The API
            # is the load balancer's name (scripts/sandbox/with-hosts.sh
            # resolves it on this host), not the forward.
            # The host is the admin at an address of the sandbox's internet
            # (scripts/sandbox/awsnet.py ADMIN): SSH and the API are open to it
            # alone, as on AWS to the document's adminCidrs.
            jq --arg cidr "$cidr" '.spec.kubernetes.skipPhases = ["preflight"]
              | .spec.network.adminCidrs = ["198.18.0.10/32"]
              | del(.spec.kubernetes.apiEndpoint)
              | .spec.network.vpcCidr = $cidr
              | .spec.platform.addons |= with_entries(.value = (.key == "argocd"))' "$dir/cluster.json" > "$dir/cluster.json.new"
            mv "$dir/cluster.json.new" "$dir/cluster.json"
        fi
        phx-state init -q < "$dir/cluster.json" > /dev/null
    )
    if real; then
        say "up: moto on 127.0.0.1:$aws_port, real Kubernetes $(k8s_bin | xargs dirname | xargs basename) nodes ($nodes, VPC $cidr), API through the load balancer once deployed (run tools with scripts/sandbox/with-hosts.sh to resolve its name here); cluster document $dir/cluster.json"
    else
        say "up: moto on 127.0.0.1:$aws_port, API stand-in on $api, $nodes nodes; cluster document $dir/cluster.json"
    fi
    cat "$dir/env"
}

down() {
    local f
    for f in "$dir"/moto.pid "$dir"/api.pid "$dir"/agent.pid "$dir"/nodes/*/pid; do
        [[ -f $f ]] || continue
        # Each runs in a session of its own: take the whole group down.
        kill -TERM -- "-$(cat "$f")" 2>/dev/null || kill -TERM "$(cat "$f")" 2>/dev/null || true
    done
    sleep 0.2
    for f in "$dir"/moto.pid "$dir"/api.pid "$dir"/agent.pid "$dir"/nodes/*/pid; do
        if [[ -f $f ]]; then kill -KILL -- "-$(cat "$f")" 2>/dev/null || true; fi
    done
    # Everything the nodes ran (kubelets, control planes), and their network.
    net_down
    ours
    rm -rf "$dir"
    say "down"
}

status() {
    alive "$dir/moto.pid" || { say "not up"; return 1; }
    say "moto:  $(grep -o 'http://[^ ]*' "$dir/env" | head -1)"
    if real; then
        say "API:   the load balancer's name, on $(jq -r .lbHost "$dir/net"):6443 here (scripts/sandbox/with-hosts.sh CMD resolves it), or https://$(jq -r .api "$dir/net") (real Kubernetes, once deployed)"
    else
        say "API:   https://$(cat "$dir/api/address")"
    fi
    local n=0 up=0 f
    for f in "$dir"/nodes/*/pid; do
        n=$((n + 1))
        alive "$f" && up=$((up + 1))
    done
    say "nodes: $up of $n running"
}

case ${1:-} in
    up) shift; up "$@" ;;
    down) down ;;
    env) [[ -f $dir/env ]] || die "not up (scripts/sandbox.sh up)"; cat "$dir/env" ;;
    status) status ;;
    reset) reset; say "reset: fresh nodes, an empty API server" ;;
    inventory)
        [[ -f $dir/env ]] || die "not up (scripts/sandbox.sh up)"
        # shellcheck source=/dev/null
        . "$dir/env"
        "${PHX_VENV:-$HOME/.cache/phx/venv}/bin/python" "$here/sandbox/inventory.py" \
            "$(jq -r .metadata.name "$dir/cluster.json")" ;;
    stop-node) stop_node "${2:?stop-node N}"; say "node $2 stopped" ;;
    start-node)
        # A real node starts as a fresh machine: nothing of its last run left.
        if real; then kill_ns "$(prefix)-n${2:?start-node N}"; fi
        start_node "${2:?start-node N}"
        read -r a p < <(sed -n "${2}p" "$dir/nodes/list")
        wait_for "sandbox node $a:$p" 30 ssh_banner "$a" "$p"
        say "node $2 started" ;;
    -h|--help|'') sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown command $1 (up, env, down, status)" ;;
esac
