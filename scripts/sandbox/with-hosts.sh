#!/usr/bin/env bash
# Run a command with the real-Kubernetes sandbox's names resolving on this
# host: in a mount namespace of its own, the sandbox's hosts file (the
# host's own entries and the API load balancer's DNS name, written by
# scripts/sandbox/agent.py) is bind-mounted over /etc/hosts. The host's
# /etc/hosts is never written; the command and its children alone see it.
#
# usage: scripts/sandbox/with-hosts.sh CMD [ARGS...]   (PHX_SANDBOX_DIR set)
set -euo pipefail
hosts=${PHX_SANDBOX_DIR:?}/hosts.host
if [[ ! -f $hosts ]]; then exec "$@"; fi
# shellcheck disable=SC2016 # expanded by the inner shell
exec unshare --mount --propagation private bash -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$hosts" "$@"
