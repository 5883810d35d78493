#!/usr/bin/env bash
# A sandbox node: a real OpenSSH sshd on a loopback address, in its own
# mount namespace where /etc, /var, /opt, /usr, /root and /home are
# overlays on a private tmpfs (and /run and /dev/shm tmpfs of its own),
# with stand-ins first on PATH for the system commands that would change
# the kernel or install packages. Nothing a
# node does reaches the host: its writes vanish with its namespace.
#
# usage: node.sh DIR ADDRESS PORT
#   DIR holds the node's host key, sshd_config, authorized_keys (written by
#   the caller), stand-ins (bin/) and the stand-ins' call log (calls.log).
#   Runs sshd in the foreground until killed.
#   PHX_SANDBOX_PKI, PHX_SANDBOX_API (optional): the sandbox API server's
#   PKI directory and address, passed to the node's sessions for the
#   kubeadm stand-in (inside a VPC the control plane's private name would
#   lead there).
#   PHX_SANDBOX_K8S (optional): the real-Kubernetes node. The directory of
#   the built Kubernetes binaries: kubeadm and kubectl are the real ones,
#   kubelet the sandbox's (PHX_SANDBOX_KUBELET), static pods' images the
#   binaries in PHX_SANDBOX_IMAGES; PHX_SANDBOX_HOSTS is bind-mounted on
#   /etc/hosts (the VPC's DNS). Run inside the node's network namespace.
set -euo pipefail

if [[ ${1:-} == --inside ]]; then
    dir=$2
    mount -t tmpfs -o mode=0755 phx-sandbox "$dir/ns"
    for d in etc var opt usr root home; do
        mkdir -p "$dir/ns/$d/upper" "$dir/ns/$d/work"
        mount -t overlay overlay \
            -o "lowerdir=/$d,upperdir=$dir/ns/$d/upper,workdir=$dir/ns/$d/work" "/$d"
    done
    if [[ -n ${PHX_SANDBOX_HOSTS:-} ]]; then mount --bind "$PHX_SANDBOX_HOSTS" /etc/hosts; fi
    # sshd's privilege separation directory, on a /run of the node's own.
    mount -t tmpfs -o mode=0755 phx-run /run
    # And a /dev/shm of its own (etcd snapshots pass through it).
    mount -t tmpfs -o mode=1777 phx-shm /dev/shm
    mkdir -p /run/sshd
    exec /usr/sbin/sshd -D -e -f "$dir/sshd_config"
fi

dir=$(realpath "$1") address=$2 port=$3
case $dir/ in
    /etc/*|/var/*|/opt/*|/usr/*|/root/*|/home/*|/run/*)
        echo "node.sh: $dir is under a directory the node overlays or replaces; use one under /tmp" >&2
        exit 2 ;;
esac
here=$(dirname "$(realpath "$0")")
mkdir -p "$dir/ns" "$dir/bin" "$dir/home"
# Fresh each start: never copy through a link to a real binary.
rm -rf "${dir:?}/bin" && mkdir -p "$dir/bin"
cp "$here"/stand-ins/* "$dir/bin/"
chmod +x "$dir"/bin/*
real=''
if [[ -n ${PHX_SANDBOX_K8S:-} ]]; then
    # The real kubeadm (its calls recorded, and failable, as the stand-ins'
    # are) and kubectl, of the version the node's packages have: the one in
    # PHX_SANDBOX_K8S until the apt-get stand-in installs another (an
    # upgrade), whose binaries are beside it (.../k8s/<version>/bin).
    version=$("$PHX_SANDBOX_K8S/kubeadm" version -o short)
    k8s_root=${PHX_SANDBOX_K8S%/*/bin}
    wrap() { # tool, first line after the shebang
        # shellcheck disable=SC2016 # expanded by the wrapper, not here
        printf '#!/usr/bin/env bash\n%sv=%s\n[[ -f /var/lib/phx-sandbox/version-%s ]] && read -r v < /var/lib/phx-sandbox/version-%s\nexec %q/"$v"/bin/%s "$@"\n' \
            "$2" "$version" "$1" "$1" "$k8s_root" "$1" > "$dir/bin/$1"
        chmod +x "$dir/bin/$1"
    }
    rm -f "$dir/bin/kubeadm" "$dir/bin/kubectl"
    # shellcheck disable=SC2016 # expanded by the wrapper, not here
    wrap kubeadm $'. "${0%/*}/_lib.sh"\n'
    wrap kubectl ''
    ln -sf "${PHX_SANDBOX_KUBELET:?}" "$dir/bin/kubelet"
    real=" PHX_SANDBOX_KUBELET=1 PHX_SANDBOX_IMAGES=${PHX_SANDBOX_IMAGES:?} PHX_KUBELET_VERSION=$version"
    real+=" PHX_SANDBOX_K8S_ROOT=$k8s_root"
fi
[[ -f $dir/ssh_host_ed25519_key ]] || ssh-keygen -q -t ed25519 -N '' -C "sandbox-$address" -f "$dir/ssh_host_ed25519_key"
touch "$dir/calls.log" "$dir/authorized_keys"
cat > "$dir/sshd_config" <<CONFIG
Port $port
ListenAddress $address
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PrintMotd no
MaxStartups 200
MaxSessions 64
LogLevel ERROR
SetEnv PATH=$dir/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PHX_SANDBOX=$dir HOME=$dir/home${PHX_SANDBOX_PKI:+ PHX_SANDBOX_PKI=$PHX_SANDBOX_PKI}${PHX_SANDBOX_API:+ PHX_SANDBOX_API=$PHX_SANDBOX_API}$real
CONFIG
exec unshare --mount --propagation private -- "$0" --inside "$dir"
