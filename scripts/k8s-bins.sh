#!/usr/bin/env bash
# Builds the real upstream Kubernetes binaries the sandbox and the tests
# run, from the Go module proxy, at the versions in
# scripts/sandbox/k8s/versions: kube-apiserver, kube-controller-manager,
# kube-scheduler, kubeadm, kubectl (k8s.io/kubernetes), etcd, etcdctl,
# etcdutl (go.etcd.io/etcd) and aws-cloud-controller-manager
# (k8s.io/cloud-provider-aws). Three small project-owned Go modules under
# scripts/sandbox/k8s/ pin them (k8s.io/kubernetes needs its staging
# modules replaced by their v0.x.y releases). The next minor's
# kube-apiserver, kube-controller-manager, kube-scheduler, kubeadm and
# kubectl (KUBERNETES_NEXT_VERSION, module kubernetes-next/) are built
# too, into their own bin dir: the upgrade tests go from one to the other.
#
#   scripts/k8s-bins.sh            # build what is missing; print the bin dir
#   scripts/k8s-bins.sh --check    # only say whether all are there (exit 1 if not)
#
# Output: ~/.cache/phx/k8s/<kubernetes version>/bin (PHX_K8S_DIR moves
# ~/.cache/phx/k8s). Go's module and build caches live under
# ~/.cache/phx/go, so a second run, or CI after a session, builds nothing.
# Versions are stamped into the binaries as upstream's release builds do
# (`kubectl version` reports KUBERNETES_VERSION).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=sandbox/k8s/versions
. "$here/sandbox/k8s/versions"
bin="${PHX_K8S_DIR:-$HOME/.cache/phx/k8s}/$KUBERNETES_VERSION/bin"
next="${PHX_K8S_DIR:-$HOME/.cache/phx/k8s}/$KUBERNETES_NEXT_VERSION/bin"
say() { printf 'k8s-bins.sh: %s\n' "$*" >&2; }

kubernetes=(kube-apiserver kube-controller-manager kube-scheduler kubeadm kubectl)
all=("${kubernetes[@]}" etcd etcdctl etcdutl aws-cloud-controller-manager)
missing=()
for b in "${all[@]}"; do [[ -x $bin/$b ]] || missing+=("$b"); done
for b in "${kubernetes[@]}"; do [[ -x $next/$b ]] || missing+=("$KUBERNETES_NEXT_VERSION/$b"); done
if [[ ${1:-} == --check ]]; then
    if [[ ${#missing[@]} -gt 0 ]]; then
        say "missing in ${bin%/*/bin}: ${missing[*]} (scripts/k8s-bins.sh builds them)"
        exit 1
    fi
    echo "$bin"
    exit 0
fi
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "$bin"
    exit 0
fi
# Go's own install location when no profile put it on PATH (CI's shell).
command -v go >/dev/null || PATH="/usr/local/go/bin:$PATH"
command -v go >/dev/null || { say "go is not installed: the real Kubernetes binaries are built with it"; exit 1; }

export GOMODCACHE="$HOME/.cache/phx/go/mod" GOCACHE="$HOME/.cache/phx/go/build"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
mkdir -p "$bin" "$next"

# A module's pinned version must be the one in the versions file.
pinned() { # dir module version
    local got
    got=$(cd "$here/sandbox/k8s/$1" && go list -m -f '{{.Version}}' "$2")
    [[ $got == "$3" ]] || { say "scripts/sandbox/k8s/$1/go.mod has $2 $got, the versions file $3"; exit 1; }
}

# upstream's hack/lib/version.sh: the same variables in both packages.
version_flags() { # version major minor date
    local p flags="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X $p.gitVersion=$1 -X $p.gitMajor=$2 -X $p.gitMinor=$3 -X $p.gitTreeState=clean -X $p.buildDate=$4"
    done
    echo "$flags"
}

build() { # module-dir output package ldflags [bin-dir]
    local out=${5:-$bin}
    [[ -x $out/$2 ]] && return 0
    local start=$SECONDS
    say "building $2 ($3) into $out"
    (cd "$here/sandbox/k8s/$1" && go build -trimpath -ldflags "$4" -o "$out/$2.tmp" "$3")
    mv "$out/$2.tmp" "$out/$2"
    say "built $2 in $((SECONDS - start)) s"
}

start=$SECONDS
minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
pinned kubernetes k8s.io/kubernetes "$KUBERNETES_VERSION"
ld=$(version_flags "$KUBERNETES_VERSION" 1 "$minor" "$KUBERNETES_BUILD_DATE")
for b in "${kubernetes[@]}"; do
    build kubernetes "$b" "k8s.io/kubernetes/cmd/$b" "$ld"
done
pinned etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
etcd_ld="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION"
build etcd etcd go.etcd.io/etcd/server/v3 "$etcd_ld"
build etcd etcdctl go.etcd.io/etcd/etcdctl/v3 "$etcd_ld"
build etcd etcdutl go.etcd.io/etcd/etcdutl/v3 "$etcd_ld"
pinned ccm k8s.io/cloud-provider-aws "$CLOUD_PROVIDER_AWS_VERSION"
ccm_minor=${CLOUD_PROVIDER_AWS_VERSION#v1.}; ccm_minor=${ccm_minor%%.*}
build ccm aws-cloud-controller-manager k8s.io/cloud-provider-aws/cmd/aws-cloud-controller-manager \
    "$(version_flags "$CLOUD_PROVIDER_AWS_VERSION" 1 "$ccm_minor" "$KUBERNETES_BUILD_DATE")"
pinned kubernetes-next k8s.io/kubernetes "$KUBERNETES_NEXT_VERSION"
next_minor=${KUBERNETES_NEXT_VERSION#v1.}; next_minor=${next_minor%%.*}
ld=$(version_flags "$KUBERNETES_NEXT_VERSION" 1 "$next_minor" "$KUBERNETES_NEXT_BUILD_DATE")
for b in "${kubernetes[@]}"; do
    build kubernetes-next "$b" "k8s.io/kubernetes/cmd/$b" "$ld" "$next"
done
say "all built in $((SECONDS - start)) s into $bin"
echo "$bin"
