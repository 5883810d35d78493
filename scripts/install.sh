#!/usr/bin/env bash
# Build the phx tools in release mode and install them into $PREFIX/bin
# (default ~/.local/bin), with their man pages and bash/zsh/fish completions.
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
install -d "$prefix/share/man/man1" "$prefix/share/bash-completion/completions" \
    "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d"
install -m 0644 man/*.1 "$prefix/share/man/man1/"
for t in "${tools[@]}"; do
    install -m 0644 "man/completions/$t.bash" "$prefix/share/bash-completion/completions/$t"
    install -m 0644 "man/completions/_$t" "$prefix/share/zsh/site-functions/_$t"
    install -m 0644 "man/completions/$t.fish" "$prefix/share/fish/vendor_completions.d/$t.fish"
done
printf 'installed %s (with man pages and completions) into %s\n' "${tools[*]}" "$prefix" >&2
case ":$PATH:" in *":$prefix/bin:"*) ;; *) printf 'add %s/bin to PATH\n' "$prefix" >&2 ;; esac
