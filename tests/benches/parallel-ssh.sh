#!/usr/bin/env bash
# The other peer for `just bench-ssh`: hand-written parallel ssh + heredoc,
# the fastest thing a platform engineer writes in bash: the same remote
# scripts as phx-kubeadm, every node's preparation at once, then init, a
# token, and every join at once. One ssh process per node and step.
#
# usage: parallel-ssh.sh KEY KNOWN_HOSTS NODES_FILE
#   NODES_FILE lines: role host port user private_dns (control plane first)
set -euo pipefail
key=$1 known=$2 nodes=$3
scripts=$(dirname "$0")/../../tools/phx-kubeadm/scripts

remote() { # host port user [stdin file]
    ssh -q -i "$key" -p "$2" -o BatchMode=yes -o UserKnownHostsFile="$known" \
        -o StrictHostKeyChecking=yes "$3@$1" "${@:4}"
}

pids=()
while read -r _ host port user _; do
    { printf "PHX_K8S_MINOR='1.34'\nPHX_K8S_PACKAGE_VERSION=''\n"; cat "$scripts/prepare.sh"; } |
        remote "$host" "$port" "$user" sudo bash -s > /dev/null &
    pids+=($!)
done < "$nodes"
for p in "${pids[@]}"; do wait "$p"; done

read -r _ cp_host cp_port cp_user cp_dns < "$nodes"
{ printf "PHX_KUBEADM_CONFIG='%s'\n" "$PHX_KUBEADM_CONFIG"; cat "$scripts/init.sh"; } |
    remote "$cp_host" "$cp_port" "$cp_user" sudo bash -s > /dev/null
join=$(remote "$cp_host" "$cp_port" "$cp_user" sudo kubeadm token create --print-join-command --ttl 30m < /dev/null)
read -r _ _ api _ token _ hash _ <<< "$join"
: "$cp_dns"

pids=()
while read -r role host port user dns; do
    [[ $role == worker ]] || continue
    { printf "PHX_API='%s'\nPHX_TOKEN='%s'\nPHX_CA_HASH='%s'\nPHX_NODE_NAME='%s'\n" "$api" "$token" "$hash" "$dns"
      cat "$scripts/join.sh"; } | remote "$host" "$port" "$user" sudo bash -s > /dev/null &
    pids+=($!)
done < "$nodes"
for p in "${pids[@]}"; do wait "$p"; done
