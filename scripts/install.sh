#!/usr/bin/env bash
# Build the phx tools in release mode and install them into $PREFIX/bin
# (default ~/.local/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${PREFIX:-$HOME/.local}"
target="${CARGO_TARGET_DIR:-$PWD/target}"
tools=(phx-state phx-net phx-iam phx-nodes phx-kubeadm phx-cni phx-ccm phx-platform)
args=()
for t in "${tools[@]}"; do args+=(-p "$t"); done
cargo build --release --locked "${args[@]}"
install -d "$prefix/bin"
for t in "${tools[@]}"; do install -m 0755 "$target/release/$t" "$prefix/bin/$t"; done
printf 'installed %s into %s/bin\n' "${tools[*]}" "$prefix" >&2
case ":$PATH:" in *":$prefix/bin:"*) ;; *) printf 'add %s/bin to PATH\n' "$prefix" >&2 ;; esac
