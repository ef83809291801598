#!/usr/bin/env bash
# Installs the Debian packages the real node needs, only when something is missing (apt-get update
# first: a fresh machine's package lists may be empty or old).
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have containerd || need+=(containerd)
have runc || need+=(runc)
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] || need+=(containernetworking-plugins)
have iptables || need+=(iptables)
have buildah || need+=(buildah)
have debootstrap || need+=(debootstrap)
have gcc || need+=(gcc libc6-dev)
have openssl || need+=(openssl)
have findmnt || need+=(util-linux)
have ip || need+=(iproute2)
have conntrack || need+=(conntrack)
have flock || need+=(util-linux)
if ((${#need[@]})); then
  echo "[deps] apt-get install ${need[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
  # The Debian package may start a containerd of the system's; the node runs its own (own root,
  # socket and state), so that one is left as the package set it up.
fi
