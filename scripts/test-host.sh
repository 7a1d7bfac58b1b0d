#!/usr/bin/env bash
# A libvirt "host" on this machine that shares nothing with daxrig but the kernel, for
# the multi-host tests (issue 19): libvirtd and virtlogd in a network namespace of their
# own, reached over a veth pair by qemu+tcp on the veth's address only, with private
# /run, /etc/libvirt, /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt (a
# mount namespace over directories under /var/tmp/daxrig-hosts/NAME) and a host name
# of their own (dxh-NAME), so a check can tell which libvirtd answered.
#   scripts/test-host.sh up NAME INDEX   starts it; prints its URI, qemu+tcp://10.77.INDEX.2/system
#   scripts/test-host.sh down NAME       stops everything in it and removes what `up` made
# NAME: 1 to 8 of [a-z0-9] (interface names are at most 15 bytes); INDEX: 1 to 254.
# Unauthenticated TCP, on a link only this machine can reach: for tests, never a fleet.
set -euo pipefail

usage() { echo "usage: $0 up NAME INDEX | down NAME" >&2; exit 2; }
[ $# -ge 2 ] || usage
action=$1 name=$2
[[ $name =~ ^[a-z0-9]{1,8}$ ]] || { echo "test-host: NAME must be 1 to 8 of [a-z0-9], not '$name'" >&2; exit 2; }
root=/var/tmp/daxrig-hosts/$name
ns=dxh-$name

down() {
  if ip netns list | grep -qw "$ns"; then
    # Everything started inside: tini, libvirtd, virtlogd and any QEMU of theirs.
    pids=$(ip netns pids "$ns" || true)
    [ -z "$pids" ] || kill $pids 2>/dev/null || true
    for _ in $(seq 50); do
      [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] || break
      sleep 0.1
    done
    pids=$(ip netns pids "$ns" || true)
    [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
    ip netns del "$ns"   # takes the veth pair with it
  fi
  ip link del "$ns-o" 2>/dev/null || true
  rm -rf "$root"
}

case $action in
  up)
    [ $# -eq 3 ] || usage
    index=$3
    [[ $index =~ ^[0-9]+$ ]] && [ "$index" -ge 1 ] && [ "$index" -le 254 ] || { echo "test-host: INDEX must be 1 to 254, not '$index'" >&2; exit 2; }
    ip netns list | grep -qw "$ns" && { echo "test-host: $ns exists already; '$0 down $name' first" >&2; exit 2; }
    address=10.77.$index.2
    # The daemons outlive this script: no descriptor of its caller may reach them, or
    # a caller that reads our output to its end (a test's pipes) waits for them forever.
    for fd in $(ls /proc/$$/fd); do
      case $fd in 0|1|2|255) ;; *) eval "exec $fd>&-" 2>/dev/null || true ;; esac
    done
    trap 'down' ERR
    # /run/lock: libvirt locks a console's pty there (/var/lock is a link to it).
    mkdir -p "$root"/{run/lock,lib,cache,log,etc}
    cp -a /etc/libvirt/. "$root/etc/"
    # The host's UUID lasts as a real machine's does (libvirtd here would make up a new
    # one at each start): daxrig remembers a host's KVM verdict by it.
    uuid=$(printf 'daxrig-test-host-%s' "$name" | sha256sum | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/')
    cat >> "$root/etc/libvirtd.conf" <<EOF
# test-host.sh: reached over TCP on the veth only, no authentication (tests only).
host_uuid = "$uuid"
listen_tls = 0
listen_tcp = 1
listen_addr = "$address"
auth_tcp = "none"
EOF
    ip netns add "$ns"
    ip link add "$ns-o" type veth peer name "$ns-h"
    ip link set "$ns-h" netns "$ns"
    ip addr add "10.77.$index.1/30" dev "$ns-o"
    ip link set "$ns-o" up
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip addr add "$address/30" dev "$ns-h"
    ip netns exec "$ns" ip link set "$ns-h" up
    # The daemons keep the mount namespace alive after this shell exits. tini -s reaps
    # the QEMUs libvirtd double-forks (scripts/setup.sh says why).
    ip netns exec "$ns" unshare -m -u --propagation private sh -c "
      hostname '$ns'
      mount --bind '$root/run' /run
      mount --bind '$root/etc' /etc/libvirt
      mount --bind '$root/lib' /var/lib/libvirt
      mount --bind '$root/cache' /var/cache/libvirt
      mount --bind '$root/log' /var/log/libvirt
      # Nothing of daxrig's side either: its cache, run directories and the tests'
      # scratch live under these, and a host that saw them would let a path of this
      # machine handed to it (a dump, a log) work by accident.
      mount -t tmpfs -o size=1m,mode=0700 daxrig-hidden /root
      mount -t tmpfs -o size=64m,mode=1777 daxrig-hidden /tmp
      cd /
      export HOME=/ TMPDIR=/tmp
      virtlogd -d < /dev/null > '$root/virtlogd.log' 2>&1
      setsid tini -s -- libvirtd --listen > '$root/libvirtd.log' 2>&1 < /dev/null &
    "
    for _ in $(seq 100); do
      (exec 3<>"/dev/tcp/$address/16509") 2>/dev/null && break
      sleep 0.2
    done
    (exec 3<>"/dev/tcp/$address/16509") 2>/dev/null \
      || { echo "test-host: libvirtd in $ns did not listen on $address:16509:" >&2; tail -20 "$root/libvirtd.log" >&2; false; }
    trap - ERR
    echo "qemu+tcp://$address/system"
    ;;
  down) down ;;
  *) usage ;;
esac
