#!/usr/bin/env bash
# Prepares a Debian 12 machine for daxrig: installs the missing packages and starts
# libvirt's daemons (there may be no systemd). Safe to run again; says what it does.
set -euo pipefail

# Kernel builds; guest boots (QEMU through libvirt); the guest image's tools; tests
# (chromium opens the HTML report headless in a test). libcap-dev and libnuma-dev: the
# static libraries the kernel's mm selftests link (without them those programs do not
# build and the selftests-mm suite reports them ERROR). iproute2: the namespace hosts of
# the multi-host tests (scripts/test-host.sh).
packages=(
  gcc make flex bison bc libelf-dev libssl-dev dwarves ccache linux-source-6.1 git rsync xz-utils lz4
  qemu-system-x86 libvirt-daemon-system libvirt-dev pkg-config libxml2-utils libsqlite3-dev
  ndctl xfsprogs e2fsprogs busybox-static cpio binutils python3 python3-venv procps tini
  chromium fonts-dejavu-core gdb tmux makedumpfile libcap-dev libnuma-dev iproute2
)

if [ "$(id -u)" != 0 ]; then
  echo "setup: run as root (it installs packages and starts libvirtd)" >&2
  exit 2
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all ${#packages[@]} packages present"
fi

# /dev/kvm as Debian's udev rule leaves it (root:kvm 0660). Some machines have it
# root-only; libvirt then finds its cached QEMU capabilities (probed with KVM) at odds
# with what its qemu user may open, re-probes QEMU on every call, and each domain
# start costs about a minute.
if [ -c /dev/kvm ] && getent group kvm >/dev/null && [ "$(stat -c %G:%a /dev/kvm)" != "kvm:660" ]; then
  echo "setup: /dev/kvm is $(stat -c "%U:%G %a" /dev/kvm); setting Debian's usual root:kvm 0660 so libvirt's capability cache stays valid"
  chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
fi

# libvirt: virtlogd collects QEMU's logs, libvirtd serves qemu:///system.
source "$(dirname "$0")/daemons.sh"
if ! alive virtlogd; then
  echo "setup: starting virtlogd"
  virtlogd -d
fi
# libvirtd double-forks QEMU, so a finished QEMU is reaped by PID 1. Without
# systemd, PID 1 may reap late, and libvirt waits on the zombie (1.2 s per domain
# here). Under `tini -s` (a child subreaper) orphaned QEMUs are reaped at once.
if ! alive libvirtd; then
  echo "setup: starting libvirtd (under tini -s, which reaps its QEMUs)"
  setsid tini -s -- libvirtd >/var/log/daxrig-libvirtd.log 2>&1 </dev/null &
fi
for _ in $(seq 50); do
  [ -S /var/run/libvirt/libvirt-sock ] && break
  sleep 0.2
done
[ -S /var/run/libvirt/libvirt-sock ] || { echo "setup: libvirtd did not come up (see /var/log/libvirt/)" >&2; exit 3; }
echo "setup: libvirtd is up (qemu:///system)"

# Python packages the tests use as real consumers of daxrig's reports, pinned, in a
# virtual environment of daxrig's own under its cache: Debian's python3 is externally
# managed (PEP 668), so pip may not install into it.
cache="${DAXRIG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/daxrig}"
venv="$cache/python"
python_packages=(junitparser==5.0.3 kcidb-io==141)
if ! "$venv/bin/python3" -c 'import junitparser, kcidb_io' 2>/dev/null; then
  echo "setup: installing ${python_packages[*]} (PyPI) into $venv for the report tests"
  base=/usr/bin/python3
  [ -x "$base" ] || base=$(command -v python3)
  "$base" -m venv "$venv"
  "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check "${python_packages[@]}"
fi
