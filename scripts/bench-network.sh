#!/usr/bin/env bash
# Benchmark: what enforcing AWS's network costs the real sandbox's deploy.
# Two real sandboxes side by side on this machine, one enforcing (the
# default) and one open (PHX_SANDBOX_NETWORK=open: no security group, NAT or
# load balancer group rule loaded); each runs `sandbox.sh up --real` and
# `deploy.sh`, ROUNDS times (default 2, the two swapping which starts
# first). Prints each figure and the ratio enforced / open.
#
#   scripts/bench-network.sh [ROUNDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-2}
base=$(mktemp -d /tmp/phx-bench-network.XXXXXX)
trap 'for m in enforced open; do PHX_SANDBOX_DIR=$base/$m "$root/scripts/sandbox.sh" down >/dev/null 2>&1 || true; done; rm -rf "$base"' EXIT

one() { # mode -> "up_seconds deploy_seconds" on stdout
    local mode=$1 dir=$base/$1 t0 t1 t2 net=''
    [[ $mode == open ]] && net=open
    t0=$(date +%s.%N)
    PHX_SANDBOX_DIR=$dir PHX_SANDBOX_NETWORK=$net "$root/scripts/sandbox.sh" up --real >/dev/null 2>&1
    t1=$(date +%s.%N)
    (
        cd "$dir"
        # shellcheck source=/dev/null
        . ./env
        "$root/scripts/sandbox/with-hosts.sh" "$root/scripts/deploy.sh" cluster.json >/dev/null 2>"$dir.deploy.log"
    ) || { echo "bench-network.sh: $mode deploy failed (see $dir.deploy.log)" >&2; exit 1; }
    t2=$(date +%s.%N)
    PHX_SANDBOX_DIR=$dir "$root/scripts/sandbox.sh" down >/dev/null 2>&1
    echo "$t0 $t1 $t2" | awk '{printf "%.1f %.1f\n", $2 - $1, $3 - $2}'
}

printf '%-6s %-9s %8s %9s\n' round network 'up (s)' 'deploy (s)'
sum_e=0 sum_o=0
for r in $(seq "$rounds"); do
    if (( r % 2 )); then order=(enforced open); else order=(open enforced); fi
    one "${order[0]}" > "$base/${order[0]}.out" &
    a=$!
    sleep 1
    one "${order[1]}" > "$base/${order[1]}.out" &
    b=$!
    wait "$a" "$b"
    for m in enforced open; do
        read -r up deploy < "$base/$m.out"
        printf '%-6s %-9s %8s %9s\n' "$r" "$m" "$up" "$deploy"
        if [[ $m == enforced ]]; then sum_e=$(awk "BEGIN{print $sum_e + $deploy}"); else sum_o=$(awk "BEGIN{print $sum_o + $deploy}"); fi
    done
done
echo "deploy, enforced / open: $(awk "BEGIN{printf \"%.3f\", $sum_e / $sum_o}") (sums over $rounds rounds: $sum_e s / $sum_o s)"
