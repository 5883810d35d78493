# shellcheck shell=bash
# etcd's own tools for backup.sh and restore.sh (sent ahead of them):
# etcdctl and etcdutl from the etcd image this control plane's static pod
# runs, started by containerd's ctr with the host's network and only the
# named directories mounted. Nothing is installed on the node, and the
# tools are the version of the etcd that wrote the data.
PKI=/etc/kubernetes/pki/etcd

# The image an etcd static pod manifest runs.
etcd_image() {
    sed -n 's/^[[:space:]]*image:[[:space:]]*//p' "$1" | head -n 1
}

# IMAGE "DIR..." TOOL ARGS...: TOOL from IMAGE with etcd's certificates
# (read-only) and each DIR (read-write) at their own paths.
etcd_tool() {
    local image=$1 dirs=$2 tool=$3 d
    shift 3
    local mounts=(--mount "type=bind,src=$PKI,dst=$PKI,options=rbind:ro")
    for d in $dirs; do
        mounts+=(--mount "type=bind,src=$d,dst=$d,options=rbind:rw")
    done
    ctr -n k8s.io run --rm --net-host "${mounts[@]}" "$image" "phx-etcd-$$-$RANDOM" \
        "/usr/local/bin/$tool" "$@"
}

# IMAGE DIR ARGS...: etcdctl against this node's member, as its health
# check client.
etcd_ctl() {
    local image=$1 dir=$2
    shift 2
    etcd_tool "$image" "$dir" etcdctl --endpoints=https://127.0.0.1:2379 --cacert="$PKI/ca.crt" \
        --cert="$PKI/healthcheck-client.crt" --key="$PKI/healthcheck-client.key" "$@"
}

# SIZE WHAT: fail unless /dev/shm (RAM) has room for SIZE bytes.
ram_for() {
    local free
    free=$(df --output=avail -B1 /dev/shm | tail -n 1)
    if (($1 > free)); then
        echo "/dev/shm has $free bytes free, $2 needs $1: no room for it in RAM" >&2
        exit 1
    fi
}
