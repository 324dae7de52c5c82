#!/usr/bin/env bash
# Installs the Debian packages the network-namespace tests need, only when a tool is missing.
# `apt-get update` runs only if something has to be installed. Needs root (CI is root).
set -euo pipefail

# tool -> package that ships it
declare -A wanted=(
  [ip]=iproute2
  [nft]=nftables
  [arping]=iputils-arping
  [curl]=curl
  [sysctl]=procps
  # BGP lab: FRR on the nodes, bird2 as the router (a different implementation, so interop is real).
  [vtysh]=frr
  [/usr/lib/frr/frr-reload.py]=frr-pythontools
  [birdc]=bird2
)

# Test files run in parallel and may both get here on a fresh machine: one installs, the other
# waits for it and then finds nothing missing.
exec 9>/tmp/kube-lb-provisioner-apt.lock
flock 9

missing=()
for tool in "${!wanted[@]}"; do
  if [[ "$tool" == /* ]]; then
    [ -x "$tool" ] || missing+=("${wanted[$tool]}")
  elif ! command -v "$tool" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$tool" ] && ! [ -x "/usr/bin/$tool" ]; then
    missing+=("${wanted[$tool]}")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-debian-packages: need root to install ${missing[*]}" >&2
  exit 1
fi

echo "install-debian-packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}" >&2
