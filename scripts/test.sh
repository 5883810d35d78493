#!/usr/bin/env bash
# The test command (README): installs what the tests need on a fresh Debian
# machine, builds every phx binary and runs the whole workspace's tests.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh -p phx-state    # arguments go to `cargo test`
#
# Installs (once): a Python venv with moto[server] (the AWS emulator) under
# ~/.cache/phx/venv, Debian packages the harness uses (openssh-server
# for the sandbox nodes, which also need root for their mount namespaces),
# and the pinned upstream Kubernetes binaries (scripts/k8s-bins.sh, Go). Nothing a test
# does changes this machine; installing prerequisites is this script's job.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${CARGO_TARGET_DIR:=$HOME/.cache/phx/target}"
export CARGO_TARGET_DIR
venv=$(scripts/prereqs.sh)
export PHX_MOTO_SERVER="$venv/bin/moto_server"
# The real Kubernetes components the real-API tests run (built once from
# the Go module proxy into ~/.cache/phx/k8s; nothing to do when cached).
scripts/k8s-bins.sh >/dev/null

# The binaries first: the workspace tests drive them (the test kit only
# builds them itself when a source is newer).
cargo build --workspace --bins
cargo test --workspace "$@"
