#!/usr/bin/env bash
# What the tests and the local sandbox need on this machine, installed once
# and idempotently: Debian packages (openssh-server for the sandbox nodes,
# curl, jq, openssl (the kubeadm stand-in makes a cluster CA), util-linux's
# unshare, python3-venv, haproxy (the API load balancer's traffic in the
# sandbox), nftables (AWS's network, enforced in the sandbox's namespaces)) and a Python venv with
# moto[server], the AWS emulator, under ~/.cache/phx/venv (PHX_VENV).
# Prints the venv's path on stdout. With PHX_NO_INSTALL=1 (the tests set
# it: a test never installs anything) it only checks, and fails naming
# what is missing.
set -euo pipefail

venv="${PHX_VENV:-$HOME/.cache/phx/venv}"
moto_version="5.2.5"

say() { printf 'prereqs.sh: %s\n' "$*" >&2; }

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
[ -x /usr/bin/curl ] || missing+=(curl)
command -v openssl >/dev/null || missing+=(openssl)
[ -x /usr/sbin/haproxy ] || missing+=(haproxy)
[ -x /usr/sbin/nft ] || missing+=(nftables)
no_install() {
    say "missing: $* (run scripts/test.sh or scripts/prereqs.sh to install)"
    exit 1
}
if [ "${#missing[@]}" -gt 0 ]; then
    [ "${PHX_NO_INSTALL:-}" != 1 ] || no_install "${missing[*]}"
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! "$venv/bin/moto_server" --help >/dev/null 2>&1 ||
    [ "$("$venv/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null)" != "$moto_version" ]; then
    [ "${PHX_NO_INSTALL:-}" != 1 ] || no_install "moto[server]==$moto_version in $venv"
    say "installing moto[server]==$moto_version into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$moto_version"
fi
echo "$venv"
