#!/usr/bin/env bash
# Tear the cluster down and leave nothing behind: the reference platform's
# destroy.sh as one pipeline under the state lock. Shows what will go
# (from the stored state), asks twice unless --yes, then removes the
# platform's load balancers, the nodes, IAM and the network, in that order.
#
# usage: scripts/destroy.sh [--yes] [-v|-q] [cluster.json]
#   -v, -q as for deploy.sh: every line as it comes, or the result only
set -euo pipefail

yes=false
doc=cluster.json
for arg in "$@"; do
    case $arg in
        --yes|-y) yes=true ;;
        -v|--verbose) export PHX_VIEW=plain ;;
        -q|--quiet) export PHX_VIEW=quiet ;;
        -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "destroy.sh: unknown option $arg" >&2; exit 2 ;;
        *) doc=$arg ;;
    esac
done

# shellcheck source=lib/pipeline.sh
. "$(dirname "$0")/lib/pipeline.sh"

say() { printf 'destroy.sh: %s\n' "$*" >&2; }
for t in phx-state phx-net phx-iam phx-nodes phx-platform jq; do
    command -v "$t" >/dev/null || { say "$t not found on PATH"; exit 2; }
done
[[ -f $doc ]] || { say "$doc not found"; exit 2; }

stored=$(phx-state pull < "$doc" 2>/dev/null || cat "$doc")
name=$(jq -r '.metadata.name' <<< "$stored")
jq -r '
  "This destroys cluster \(.metadata.name):",
  "  nodes:   \((.status.nodes.instances // []) | map(.name) | join(", "))",
  "  VPC:     \(.status.network.vpcId // "-")",
  "  roles:   \([.status.iam.controlPlane.role, .status.iam.workers.role] | map(select(.)) | join(", "))",
  "  add-ons: \((.status.platform.applications // {}) | keys | join(", "))"' <<< "$stored" >&2
# The stored state may be behind (a killed run): what EC2 holds now.
live=$(phx-nodes list -q <<< "$stored" 2>/dev/null |
    jq -r 'map("\(.name) (\(.instanceId), \(.state))") | join(", ")' || echo "(EC2 not reachable)")
say "instances tagged for $name now: ${live:-none}"
say "(anything else tagged kubernetes.io/cluster/$name=owned is found and removed too)"

if ! $yes; then
    [[ -t 0 ]] || { say "not a terminal to ask on: re-run with --yes to destroy $name without asking"; exit 2; }
    read -r -p "Type 'yes' to destroy cluster $name: " a
    [[ $a == yes ]] || { say "aborted"; exit 1; }
    read -r -p "Really? Everything in $name is deleted. Type 'yes' again: " a
    [[ $a == yes ]] || { say "aborted"; exit 1; }
fi

kubeconfig=$(jq -r '.status.kubeadm.kubeconfig // empty' <<< "$stored")
run_locked destroy.sh "$doc" "phx-platform destroy" "phx-nodes destroy" "phx-iam destroy & phx-net destroy"
# The admin kubeconfig phx-kubeadm wrote points at nothing now.
if [[ -n $kubeconfig && -f $kubeconfig ]]; then
    rm -f "$kubeconfig"
    say "removed $kubeconfig"
fi
say "cluster $name destroyed"
