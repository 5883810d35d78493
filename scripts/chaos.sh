#!/usr/bin/env bash
# Chaos on the local sandbox. N trials, each from nothing: start the deploy
# pipeline, SIGKILL all of it at a random moment (no stage gets to write
# anything), force-unlock as an operator would, re-run, and check that
# exactly one of each resource exists; then destroy, check that nothing is
# left, and reset the sandbox's nodes and API server for the next trial.
#
# usage: scripts/chaos.sh [N]        (default 20; kill within PHX_CHAOS_MAX_DELAY s, default 5)
# Prints: trials, duplicates found, leaks found. Exits 1 if either is not 0.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
case ${1:-} in
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
trials=${1:-20}
[[ $trials =~ ^[1-9][0-9]*$ ]] || { echo "chaos.sh: N must be a positive number of trials (usage: scripts/chaos.sh [N])" >&2; exit 2; }
max_ms=$(( ${PHX_CHAOS_MAX_DELAY:-5} * 1000 ))
export PHX_SANDBOX_DIR=${PHX_SANDBOX_DIR:-/tmp/phx-chaos-$(id -u)}

say() { printf 'chaos.sh: %s\n' "$*" >&2; }
set -E

"$root/scripts/sandbox.sh" up > /dev/null
trap '"$root/scripts/sandbox.sh" down' EXIT
# shellcheck source=/dev/null
. "$PHX_SANDBOX_DIR/env"
cd "$PHX_SANDBOX_DIR"
# A SIGKILLed pipeline cannot clean up its temporary files (the document
# on its way to push, the stages' exit codes): keep them in the sandbox,
# which goes away with it.
mkdir -p "$PHX_SANDBOX_DIR/tmp"
log=${TMPDIR:-/tmp}/phx-chaos-$(id -u).log
: > "$log"
trap 'say "FAILED at line $LINENO (see $log)"' ERR
export TMPDIR=$PHX_SANDBOX_DIR/tmp

# Release whatever lock a killed pipeline left, by its id (as the README's
# troubleshooting says), or nothing when none is held.
unlock() {
    local out id
    if out=$(phx-state lock < cluster.json 2> lock.err); then
        phx-state unlock <<< "$out" > /dev/null
        return
    fi
    id=$(grep -o 'id [0-9a-f-]\{36\}' lock.err | head -1 | cut -d' ' -f2)
    [[ -n $id ]] || { say "cannot read the lock: $(cat lock.err)"; exit 1; }
    phx-state force-unlock "$id" < cluster.json > /dev/null
    echo "force-unlocked $id" >> "$log"
}

# Names present more than once, as "kind/name xN".
duplicates() {
    jq -r 'to_entries[] | .key as $k | .value | to_entries[] | select(.value > 1) | "\($k)/\(.key) x\(.value)"'
}

dups=0 leaks=0
for t in $(seq 1 "$trials"); do
    delay=$(( RANDOM * 32768 + RANDOM ))
    delay=$(( delay % max_ms ))
    setsid "$root/scripts/deploy.sh" cluster.json >> "$log" 2>&1 &
    pid=$!
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unlock
    if ! "$root/scripts/deploy.sh" cluster.json >> "$log" 2>&1; then
        say "trial $t: the re-run after a kill at ${delay} ms FAILED (see $log)"
        exit 1
    fi
    found=$("$root/scripts/sandbox.sh" inventory | duplicates)
    if [[ -n $found ]]; then
        dups=$((dups + $(wc -l <<< "$found")))
        say "trial $t (killed at ${delay} ms): DUPLICATES: $(tr '\n' ' ' <<< "$found")"
    fi
    "$root/scripts/destroy.sh" --yes cluster.json >> "$log" 2>&1 || { say "trial $t: destroy FAILED (see $log)"; exit 1; }
    left=$("$root/scripts/sandbox.sh" inventory)
    n=$(jq '[.[] | length] | add // 0' <<< "$left")
    if [[ $n -ne 0 ]]; then
        leaks=$((leaks + n))
        say "trial $t (killed at ${delay} ms): LEFT BEHIND: $left"
    fi
    [[ -n $found || $n -ne 0 ]] || say "trial $t (killed at ${delay} ms): converged with one of each, destroyed without a trace"
    "$root/scripts/sandbox.sh" reset 2>> "$log"
done

printf 'trials %d, duplicates found %d, leaks found %d\n' "$trials" "$dups" "$leaks"
[[ $dups -eq 0 && $leaks -eq 0 ]]
