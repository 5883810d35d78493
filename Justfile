# phx tasks. `just --list` shows them all.

export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", env_var("HOME") + "/.cache/phx/target")

# Build every tool (debug).
build:
    cargo build --workspace --bins

# Install the tools into ~/.local/bin (release build).
install:
    scripts/install.sh

# The README's test command: installs prerequisites, runs every test.
test *ARGS:
    scripts/test.sh {{ARGS}}

# clippy -D warnings, rustfmt --check, shellcheck.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    shellcheck scripts/*.sh scripts/lib/*.sh scripts/sandbox/*.sh scripts/sandbox/stand-ins/* tools/*/scripts/*.sh tests/benches/*.sh .ci/run

# Format the code.
fmt:
    cargo fmt --all

# What CI runs.
ci:
    bash .ci/run

# AWS benchmark: phx-net + phx-iam against moto with 100 ms per request.
bench-aws:
    cargo bench -p phx-tests --bench aws

# Network benchmark: the real sandbox's deploy with AWS's network enforced vs open, side by side.
bench-network:
    scripts/bench-network.sh

# SSH benchmark: phx-kubeadm vs Ansible vs parallel ssh on sandbox nodes.
bench-ssh:
    scripts/bench-ssh.sh

# Regenerate the man pages and shell completions under man/ from the clap definitions.
man:
    cargo run -q -p phx-docs -- man

# The two-minute tour on the local sandbox: up, deploy, show, destroy, nothing left, down.
demo:
    scripts/demo.sh

# The local sandbox: up [--nodes N] [--real] | env | status | inventory | reset | down.
sandbox *ARGS:
    scripts/sandbox.sh {{ARGS}}

# Kill the deploy pipeline at random moments N times; count duplicates and leaks.
chaos N="20":
    scripts/chaos.sh {{N}}

# Stand up or converge the cluster of cluster.json (--plan: change nothing).
deploy *ARGS:
    scripts/deploy.sh {{ARGS}}

# Tear down the cluster of cluster.json (asks twice unless --yes).
destroy *ARGS:
    scripts/destroy.sh {{ARGS}}
