#!/usr/bin/env bash
# One step (PHX_STEP) of an etcd restore on this control plane. Each step
# can run again: an interrupted restore resumes by repeating its last one.
# PHX_TOKEN, etcd's new cluster token, names the restore. Preceded by
# etcd-lib.sh.
#   stop     etcd's and the API server's static pod manifests moved aside
#            (the kubelet stops both); waits until neither answers.
#   restore  the snapshot (stdin, PHX_SIZE bytes, kept in RAM if there is
#            room) restored for this member (PHX_NAME, PHX_PEER_URL) of the
#            cluster PHX_CLUSTER with the new token, etcd's revision bumped
#            and marked compacted (clients' watches then start over instead
#            of waiting for revisions the restore took back); it replaces
#            /var/lib/etcd, the old data kept as /var/lib/etcd.before-phx-restore.
#   start    the manifests put back (the kubelet starts both).
set -euo pipefail
umask 077
: "${PHX_STEP:?}" "${PHX_TOKEN:?}"
manifests=/etc/kubernetes/manifests
aside=/etc/kubernetes/phx-restore
data=/var/lib/etcd
restored=$aside/restored-$PHX_TOKEN

answers() {
    (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null
}

case $PHX_STEP in
stop)
    mkdir -p "$aside"
    for m in kube-apiserver etcd; do
        if [[ -f $manifests/$m.yaml ]]; then
            mv "$manifests/$m.yaml" "$aside/$m.yaml"
        fi
        if [[ ! -f $aside/$m.yaml ]]; then
            echo "no $m.yaml in $manifests nor in $aside" >&2
            exit 1
        fi
    done
    for _ in $(seq 1 240); do
        if ! answers 2379 && ! answers 6443; then
            exit 0
        fi
        sleep 0.5
    done
    echo "etcd or the API server still answers 2 minutes after their manifests went" >&2
    exit 1
    ;;
restore)
    : "${PHX_NAME:?}" "${PHX_PEER_URL:?}" "${PHX_CLUSTER:?}" "${PHX_SIZE:?}"
    if [[ -f $restored ]]; then
        cat > /dev/null
        echo "already restored"
        exit 0
    fi
    ram_for "$PHX_SIZE" "the snapshot"
    image=$(etcd_image "$aside/etcd.yaml")
    work=$(mktemp -d /dev/shm/phx-etcd.XXXXXX)
    staging=$data.phx-$PHX_TOKEN
    trap 'rm -rf "$work" "$staging"' EXIT
    cat > "$work/snapshot.db"
    rm -rf "$staging"
    mkdir -p "$staging"
    etcd_tool "$image" "$work $staging" etcdutl snapshot restore "$work/snapshot.db" \
        --name "$PHX_NAME" --initial-cluster "$PHX_CLUSTER" \
        --initial-cluster-token "$PHX_TOKEN" --initial-advertise-peer-urls "$PHX_PEER_URL" \
        --data-dir "$staging/data" --bump-revision 1000000000 --mark-compacted >&2
    if [[ -d $data ]]; then
        rm -rf "$data.before-phx-restore"
        mv "$data" "$data.before-phx-restore"
    fi
    mv "$staging/data" "$data"
    touch "$restored"
    echo "restored"
    ;;
start)
    if [[ ! -f $restored ]]; then
        echo "etcd's data is not restored yet (run the restore step first)" >&2
        exit 1
    fi
    for m in etcd kube-apiserver; do
        if [[ -f $aside/$m.yaml ]]; then
            mv "$aside/$m.yaml" "$manifests/$m.yaml"
        fi
    done
    ;;
*)
    echo "unknown step $PHX_STEP" >&2
    exit 2
    ;;
esac
