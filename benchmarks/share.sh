#!/usr/bin/env bash
# Share goals (issue 16): `daxrig boot --share DIR -- true` against `daxrig boot -- true`,
# median of 5 each, interleaved (goal: the share costs at most 0.3 s), over virtio-fs
# and over 9p; and reading a 1 GiB file from a share in the guest, virtio-fs against
# 9p in the same run (MB/s, timed in the guest by its own clock).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
daxrig=$PWD/.build/release/daxrig
runs=${RUNS:-5}
scratch=$(mktemp -d /var/tmp/daxrig-sharebench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
now() { date +%s.%N; }
mkdir -p "$scratch/share"
echo hello > "$scratch/share/hello"

"$daxrig" kernel build >/dev/null 2>&1              # cached kernel
"$daxrig" boot -- true >/dev/null 2>&1               # cached image
# 9p without a failed virtio-fs start first: no virtiofsd where daxrig looks for one.
ninep() { DAXRIG_VIRTIOFSD=$scratch/no-virtiofsd "$@"; }
timed() { local t0 t1; t0=$(now); "$@" >/dev/null 2>"$scratch/err" || { cat "$scratch/err"; exit 1; }; t1=$(now); python3 -c "print($t1 - $t0)"; }

echo "boot -- true against boot --share DIR -- true, $runs runs each, interleaved (wall s):"
for i in $(seq "$runs"); do
  p=$(timed "$daxrig" boot -- true)
  v=$(timed "$daxrig" boot --share "$scratch/share" -- cat /root/share/hello)
  grep -q "via virtio-fs" "$scratch/err" || { echo "the share was not virtio-fs:"; cat "$scratch/err"; exit 1; }
  n=$(ninep timed "$daxrig" boot --share "$scratch/share" -- cat /root/share/hello)
  grep -q "via 9p" "$scratch/err" || { echo "the share was not 9p:"; cat "$scratch/err"; exit 1; }
  printf '  run %d: plain %.2f  virtio-fs %.2f  9p %.2f\n' "$i" "$p" "$v" "$n"
  echo "$p $v $n" >> "$scratch/boots"
done

dd if=/dev/zero of="$scratch/share/big" bs=1M count=1024 status=none
read_in_guest='a=$(cut -d" " -f1 /proc/uptime); cat /root/share/big > /dev/null; b=$(cut -d" " -f1 /proc/uptime); echo "$a $b"'
echo "reading a 1 GiB file from the share in the guest (guest clock):"
for transport in virtio-fs 9p; do
  if [ "$transport" = 9p ]; then run=ninep; else run=; fi
  out=$($run "$daxrig" boot --timeout 900 --share "$scratch/share" -- sh -c "$read_in_guest" 2>"$scratch/err") || { cat "$scratch/err"; exit 1; }
  grep -q "via $transport" "$scratch/err" || { echo "the share was not $transport"; exit 1; }
  python3 -c "a, b = map(float, '$out'.split()); print(f'  $transport: {b - a:.2f} s, {1024 / (b - a):.0f} MiB/s')" | tee -a "$scratch/reads"
done

python3 - "$scratch" <<'PY'
import statistics, sys
s = sys.argv[1]
rows = [list(map(float, line.split())) for line in open(f"{s}/boots")]
p, v, n = (statistics.median(r[i] for r in rows) for i in range(3))
print(f"median: plain {p:.2f} s, virtio-fs share {v:.2f} s (+{v - p:.2f} s, ratio {v / p:.2f}; goal +0.3 s), "
      f"9p share {n:.2f} s (+{n - p:.2f} s, ratio {n / p:.2f})")
reads = {line.split(':')[0].strip(): float(line.split(',')[1].split()[0]) for line in open(f"{s}/reads")}
print(f"1 GiB read: virtio-fs {reads['virtio-fs']:.0f} MiB/s, 9p {reads['9p']:.0f} MiB/s, ratio {reads['virtio-fs'] / reads['9p']:.2f}")
PY
