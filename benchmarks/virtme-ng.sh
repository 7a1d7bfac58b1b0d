#!/usr/bin/env bash
# Side by side with virtme-ng (issue 16), same machine, same 6.1 tree, both under TCG:
# `vng --exec 'echo vng-ran'` on a kernel built with vng's own config, and `daxrig boot -- true`
# on daxrig's default kernel, median of RUNS each, interleaved. With COLD=1 first: each
# tool's cold kernel build (vng --build in a fresh copy of the tree; daxrig kernel build
# with an empty cache and ccache), wall and CPU seconds. VNG_TREE=DIR reuses a tree vng
# has built. What each does in its time differs, and the script says so.
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
runs=${RUNS:-5}
scratch=$(mktemp -d /var/tmp/daxrig-vngbench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
# vng wants depmod, and the system's sbin tools before any others on PATH (with them
# last it printed nothing and exited 255 here).
PATH=/usr/sbin:/sbin:$PATH
command -v depmod >/dev/null || apt-get install -y -qq --no-install-recommends kmod >/dev/null   # vng runs depmod
venv=${VNG_VENV:-$scratch/venv}
[ -x "$venv/bin/vng" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check virtme-ng==1.42; }
export PATH=$venv/bin:$PATH
timed() {  # wall and CPU (user + sys, children included) seconds of "$@"; time(1) writes last to stderr
  local t0 t1; t0=$(now)
  /usr/bin/time -f '%U %S' "$@" >/dev/null 2>"$scratch/err" || { cat "$scratch/err"; exit 1; }
  t1=$(now)
  tail -1 "$scratch/err" | awk -v w="$(python3 -c "print($t1 - $t0)")" '{ printf "%.1f s wall, %.1f s CPU\n", w, $1 + $2 }'
}

tree=${VNG_TREE:-}
if [ "${COLD:-0}" = 1 ] || [ -z "$tree" ]; then
  tree=$scratch/linux
  mkdir -p "$tree"
  tar -xf /usr/src/linux-source-6.1.tar.xz -C "$tree" --strip-components=1
  echo "cold builds of the same 6.1 tree:"
  echo "  vng --build (vng's config):      $(cd "$tree" && timed vng --build)"
  echo "  daxrig kernel build (its own):   $(DAXRIG_CACHE=$scratch/cache CCACHE_DIR=$scratch/ccache timed "$daxrig" kernel build)"
fi
quiet "$daxrig" kernel build
quiet "$daxrig" boot -- true
echo "warm, $runs runs each, interleaved (wall s):"
for i in $(seq "$runs"); do
  # vng 1.42 exits 255 here even when the command ran (its script channel falls back
  # to the console under TCG), so the command's own output says it ran.
  # --verbose, into a file: otherwise, off a terminal, vng printed nothing at all.
  t0=$(now); (cd "$tree" && vng --disable-kvm --verbose --exec 'echo vng-ran' >"$scratch/vng.out" 2>&1) || true; t1=$(now)
  grep -q 'vng-ran' "$scratch/vng.out" || { echo "vng did not run the command:"; tail -20 "$scratch/vng.out"; exit 1; }
  d0=$(now); quiet "$daxrig" boot -- true; d1=$(now)
  python3 -c "print(f'  run $i: vng --verbose --exec {$t1 - $t0:.2f}  daxrig boot -- true {$d1 - $d0:.2f}')" | tee -a "$scratch/warm"
done
python3 - "$scratch/warm" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
v = statistics.median(float(r[5]) for r in rows); d = statistics.median(float(r[10]) for r in rows)
print(f"median: vng {v:.2f} s, daxrig {d:.2f} s, daxrig/vng {d / v:.2f}")
print("vng: its config (~1,250 options, modules, DEBUG_INFO), the host's root over virtio-fs read-only, systemd-tmpfiles, a shell runs the command.")
print("daxrig: tinyconfig + its fragment, a 26 MB initramfs with its agent as PID 1, an nvdimm made fsdax (ndctl), mkfs.xfs, mounted -o dax, DAX confirmed, then the command.")
PY
