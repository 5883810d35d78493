#!/usr/bin/env bash
# A call to this control plane's own etcd member through its v3 JSON
# gateway with the API server's etcd client certificate (stacked etcd runs
# in a static pod: no etcdctl on the host). Header: PHX_ETCD_CALL (the
# path after /v3/: cluster/member/list, cluster/member/remove,
# maintenance/status) and PHX_ETCD_BODY (the request). Prints etcd's answer.
set -euo pipefail
: "${PHX_ETCD_CALL:?}" "${PHX_ETCD_BODY:?}"
pki=/etc/kubernetes/pki
curl -sS --fail --max-time 10 --cacert "$pki/etcd/ca.crt" \
    --cert "$pki/apiserver-etcd-client.crt" --key "$pki/apiserver-etcd-client.key" \
    -X POST -d "$PHX_ETCD_BODY" "https://127.0.0.1:2379/v3/$PHX_ETCD_CALL"
