# shellcheck shell=bash
# Shared by the stand-ins: record the call, and fail on request.
#
# Every call is appended to $PHX_SANDBOX/calls.log as "name args...".
# A line "name args-prefix" in $PHX_SANDBOX/fail makes matching calls
# fail with exit 1, as the real command would on a broken node.
# Package state lives in /var/lib/phx-sandbox (inside the node's overlay).
# Builtins only up to the call itself: on a 2-core machine running 32
# nodes, every process spawned here is measurable.
name=${0##*/}
: "${PHX_SANDBOX:?stand-ins run only on a sandbox node}"
printf '%s\n' "$name $*" >> "$PHX_SANDBOX/calls.log"
if [[ -f $PHX_SANDBOX/fail ]]; then
    while IFS= read -r pattern; do
        if [[ -n $pattern && "$name $*" == "$pattern"* ]]; then
            echo "$name: simulated failure ($pattern)" >&2
            exit 1
        fi
    done < "$PHX_SANDBOX/fail"
fi
state=/var/lib/phx-sandbox
# Stacked etcd's membership, shared by the sandbox's nodes (kubeadm keeps
# it, curl answers etcd's gateway from it): one line "ID name" per member.
# shellcheck disable=SC2034 # read by the stand-ins that source this
etcd_members=${PHX_SANDBOX%/*}/etcd-members
if [[ ! -f $state/held ]]; then
    mkdir -p "$state"
    : >> "$state/installed"
    : >> "$state/held"
fi
