#!/usr/bin/env bash
# `just bench-ssh`: installs ansible-core (the peer) into its own venv once,
# then runs the SSH benchmark (tests/benches/ssh.rs) on sandbox nodes.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${PHX_ANSIBLE_VENV:-$HOME/.cache/phx/venv-ansible}"
if [ ! -x "$venv/bin/ansible-playbook" ]; then
    echo "bench-ssh.sh: installing ansible-core into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "ansible-core==2.18.*"
fi
export PHX_ANSIBLE_PLAYBOOK="$venv/bin/ansible-playbook"
exec cargo bench -p phx-tests --bench ssh
