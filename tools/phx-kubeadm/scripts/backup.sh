#!/usr/bin/env bash
# An etcd snapshot of this control plane's member, on stdout: one line
# "SIZE STATUS" (the snapshot's bytes and `etcdutl snapshot status` as
# JSON), then the snapshot itself. It is made in RAM (/dev/shm: a
# Kubernetes node has no swap; refused up front when etcd's database would
# not fit) and removed on exit, so it never reaches the node's disk. Exits
# 3 when this node's etcd is not healthy (another control plane is asked
# then). Preceded by etcd-lib.sh.
set -euo pipefail
umask 077
manifest=/etc/kubernetes/manifests/etcd.yaml
if [[ ! -f $manifest ]]; then
    echo "no etcd here ($manifest is missing)" >&2
    exit 3
fi
image=$(etcd_image "$manifest")
if [[ -z $image ]]; then
    echo "no image in $manifest" >&2
    exit 1
fi
data=$(sed -n 's/.*--data-dir=//p' "$manifest" | head -n 1)
if [[ -f ${data:-/var/lib/etcd}/member/snap/db ]]; then
    ram_for "$(stat -c %s "${data:-/var/lib/etcd}/member/snap/db")" "a snapshot of etcd's database"
fi
work=$(mktemp -d /dev/shm/phx-etcd.XXXXXX)
trap 'rm -rf "$work"' EXIT
if ! health=$(etcd_ctl "$image" "$work" endpoint health --command-timeout=5s 2>&1); then
    echo "etcd is not healthy: ${health//$'\n'/ }" >&2
    exit 3
fi
etcd_ctl "$image" "$work" snapshot save "$work/snapshot.db" >&2
status=$(etcd_tool "$image" "$work" etcdutl snapshot status "$work/snapshot.db" -w json)
printf '%s %s\n' "$(stat -c %s "$work/snapshot.db")" "$status"
cat "$work/snapshot.db"
