#!/usr/bin/env bash
# Stand up (or converge) the cluster described by a cluster document: the
# reference platform's deploy.sh as one pipeline of phx tools under the
# state lock. Any stage failing still leaves the document stored (with
# .error and everything made so far) and the lock released; this script
# then says which stage failed and exits non-zero.
#
# usage: scripts/deploy.sh [--plan] [--allow-remove] [-v|-q] [cluster.json]
#   --plan           run the plan verbs only; changes nothing (no lock taken)
#   --allow-remove   lowered counts remove nodes: workers beyond the count
#                    are terminated (drain them first); control planes beyond
#                    it leave the cluster one at a time (kubeadm reset, etcd
#                    member and Node removed), then are deregistered and
#                    terminated
#   -v, --verbose    every stage's lines as they come (on a terminal the
#                    view shows one line per stage, the lines go to a log)
#   -q, --quiet      the result only (the lines go to the log file)
# A newer spec.kubernetes.version (the next minor) upgrades the cluster one
# node at a time first (phx-kubeadm upgrade --help).
set -euo pipefail

plan=false
remove=()
doc=cluster.json
for arg in "$@"; do
    case $arg in
        --plan) plan=true ;;
        --allow-remove) remove=(--allow-remove) ;;
        -v|--verbose) export PHX_VIEW=plain ;;
        -q|--quiet) export PHX_VIEW=quiet ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "deploy.sh: unknown option $arg" >&2; exit 2 ;;
        *) doc=$arg ;;
    esac
done

# shellcheck source=lib/pipeline.sh
. "$(dirname "$0")/lib/pipeline.sh"

say() { printf 'deploy.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

# Pre-flight: everything a stage would otherwise find out halfway.
for t in phx-state phx-net phx-iam phx-nodes phx-kubeadm phx-ccm phx-cni phx-platform jq; do
    command -v "$t" >/dev/null || die "$t not found on PATH (scripts/install.sh installs the phx tools)"
done
[[ -f $doc ]] || die "$doc not found (phx-state new --name NAME --region REGION > $doc)"
jq -e '.kind == "Cluster"' "$doc" >/dev/null 2>&1 || die "$doc is not a cluster document"
jq -e '(.spec.network.adminCidrs // []) | length > 0' "$doc" >/dev/null ||
    die "$doc: spec.network.adminCidrs is empty: set the CIDRs allowed to reach SSH and the API (e.g. your IP/32)"
region=$(jq -r '.spec.region // empty' "$doc")
who=$(phx-state whoami ${region:+--region "$region"} 2>&1) || die "${who#phx-state: }"
say "AWS identity: $(jq -r .arn <<< "$who")"
# The nodes' input (the SSH public key, instance fields) as phx-nodes
# itself checks it, read-only: one place knows where keys are looked for.
# Quiet unless it refuses: then its one line says why.
pre=$(phx-nodes -q plan < "$doc" 2>&1 > /dev/null) || { pre=$(tail -n 1 <<< "$pre"); die "${pre#phx-nodes: }"; }

if $plan; then
    # Your spec with the stored status, as `lock` would join them, unlocked.
    stored=$(phx-state pull < "$doc" 2>/dev/null || echo '{}')
    jq --argjson stored "$stored" '. + {status: ($stored.status // {})} | del(.status.state.lock)' "$doc" |
        phx-net plan | phx-iam plan | phx-nodes plan | phx-kubeadm plan |
        phx-ccm plan | phx-cni plan | phx-platform plan > /dev/null
    exit 0
fi

# The cloud controller manager before the CNI: it initializes the nodes
# (the uninitialized taint comes off), which Calico's controllers wait for
# to be scheduled at all (found on the real Kubernetes sandbox).
# With --allow-remove, phx-nodes runs again after phx-kubeadm: control
# planes leave the cluster before their machines go.
nodes="phx-nodes apply ${remove[*]}"
after=()
[[ ${#remove[@]} -eq 0 ]] || after=("$nodes")
# phx-kubeadm upgrade before apply: a newer spec.kubernetes.version rolls
# the cluster's nodes first (nothing to do costs no node a question once
# status.kubeadm.version is recorded); apply then joins new nodes at it.
run_locked deploy.sh "$doc" "phx-net apply & phx-iam apply" "$nodes" "phx-kubeadm upgrade" "phx-kubeadm apply ${remove[*]}" \
    "${after[@]}" "phx-ccm apply" "phx-cni apply" "phx-platform apply"

stored=$(phx-state pull < "$doc")
jq -r --arg doc "$doc" '
  "cluster \(.metadata.name) is up",
  "  API:        \(.status.kubeadm.apiEndpoint // "-")",
  (.status.kubeadm.controlPlaneEndpoint // empty | "  endpoint:   \(.) (kubeadm'"'"'s controlPlaneEndpoint: what the nodes use)"),
  "  kubeconfig: \(.status.kubeadm.kubeconfig // "-")",
  "  nodes:",
  (.status.nodes.instances // [] | .[] | "    \(.name)  \(.role)  \(.publicIp // .privateIp // "-")  ssh \(.ssh.host):\(.ssh.port)"),
  "  add-ons:    \((.status.platform.applications // {}) | keys | join(", "))",
  "next:",
  "  export KUBECONFIG=\(.status.kubeadm.kubeconfig // "~/.kube/config")",
  "  kubectl get nodes",
  "  phx-state pull < \($doc) | phx-nodes list",
  "  phx-state pull < \($doc) | phx-platform status"' <<< "$stored" >&2
