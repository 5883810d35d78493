#!/usr/bin/env bash
# The test command (README): installs what the tests need on a fresh Debian
# machine, builds every phx binary and runs the whole workspace's tests.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh -p phx-state    # arguments go to `cargo test`
#
# Installs (once): a Python venv with moto[server] (the AWS emulator) under
# ~/.cache/phx/venv, and Debian packages the harness uses (openssh-server
# for the sandbox nodes, which also need root for their mount namespaces). Nothing a test
# does changes this machine; installing prerequisites is this script's job.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${CARGO_TARGET_DIR:=$HOME/.cache/phx/target}"
export CARGO_TARGET_DIR
venv="${PHX_VENV:-$HOME/.cache/phx/venv}"
moto_version="5.2.5"

say() { printf 'test.sh: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
command -v unshare >/dev/null || missing+=(util-linux)
command -v jq >/dev/null || missing+=(jq)
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! "$venv/bin/moto_server" --help >/dev/null 2>&1 ||
    [ "$("$venv/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null)" != "$moto_version" ]; then
    say "installing moto[server]==$moto_version into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$moto_version"
fi
export PHX_MOTO_SERVER="$venv/bin/moto_server"

# The binaries first: the workspace tests drive them (the test kit only
# builds them itself when a source is newer).
cargo build --workspace --bins
cargo test --workspace "$@"
