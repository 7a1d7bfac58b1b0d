#!/usr/bin/env bash
# Share goals (issue 16): `daxrig boot --share DIR -- true` against `daxrig boot -- true`,
# median of 6 each, interleaved (goal: the share costs at most 0.3 s), over virtio-fs
# and over 9p; and reading a 1 GiB file from a share in the guest, virtio-fs against
# 9p in the same run (MB/s, timed in the guest by its own clock).
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
runs=${RUNS:-6}   # a multiple of 3: each mode boots first, second and third equally often
scratch=$(mktemp -d /var/tmp/daxrig-sharebench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/share"
echo hello > "$scratch/share/hello"

quiet "$daxrig" kernel build              # cached kernel
quiet "$daxrig" boot -- true               # cached image
# 9p without a failed virtio-fs start first: no virtiofsd where daxrig looks for one.
ninep() { DAXRIG_VIRTIOFSD=$scratch/no-virtiofsd "$@"; }
timed() { local t0 t1; t0=$(now); "$@" >/dev/null 2>"$scratch/err" || { cat "$scratch/err"; exit 1; }; t1=$(now); python3 -c "print($t1 - $t0)"; }

echo "boot -- true against boot --share DIR -- true, $runs runs each, the order rotated each run (wall s):"
boot() {  # mode, run: one boot; its wall time and its --json phases into $scratch/boots
  local mode=$1 t0 t1
  local -a args=(boot --json)
  [ "$mode" = plain ] || args+=(--share "$scratch/share")
  t0=$(now)
  if [ "$mode" = 9p ]; then ninep "$daxrig" "${args[@]}" -- true >"$scratch/json" 2>"$scratch/err" || { cat "$scratch/err"; exit 1; }
  else "$daxrig" "${args[@]}" -- true >"$scratch/json" 2>"$scratch/err" || { cat "$scratch/err"; exit 1; }; fi
  t1=$(now)
  case $mode in
    virtio-fs) grep -q "via virtio-fs" "$scratch/err" || { echo "the share was not virtio-fs:"; cat "$scratch/err"; exit 1; } ;;
    9p) grep -q "via 9p" "$scratch/err" || { echo "the share was not 9p:"; cat "$scratch/err"; exit 1; } ;;
  esac
  python3 -c "import json, sys; j = json.load(open(sys.argv[1])); print(sys.argv[2], $t1 - $t0, *(f\"{p['name']}={p['seconds']}\" for p in j['phases']))" \
    "$scratch/json" "$mode" >> "$scratch/boots"
}
modes=(plain virtio-fs 9p)
for i in $(seq "$runs"); do
  # Rotated: a boot right after another pays for what the one before left (QEMU's exit,
  # virtiofsd's, freed memory); each mode goes first, second and third equally often.
  for k in 0 1 2; do boot "${modes[$(( (i + k) % 3 ))]}"; done
  tail -3 "$scratch/boots" | sort | awk -v i="$i" '{ printf "%s%s %.2f", (NR == 1 ? "  run " i ": " : "  "), $1, $2 } END { print "" }'
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
boots = {}
for line in open(f"{s}/boots"):
    mode, wall, *phases = line.split()
    row = {"wall": float(wall)}
    row.update({k: float(v) for k, v in (p.split("=") for p in phases)})
    row["before start"] = row["wall"] - sum(float(p.split("=")[1]) for p in phases)
    boots.setdefault(mode, []).append(row)
med = {m: {k: statistics.median(r.get(k, 0) for r in rows) for k in rows[0]} for m, rows in boots.items()}
p, v, n = (med[m]["wall"] for m in ("plain", "virtio-fs", "9p"))
print(f"median: plain {p:.2f} s, virtio-fs share {v:.2f} s (+{v - p:.2f} s, ratio {v / p:.2f}; goal +0.3 s), "
      f"9p share {n:.2f} s (+{n - p:.2f} s, ratio {n / p:.2f})")
print("where, median seconds per phase (plain / virtio-fs / 9p):")
for k in med["plain"]:
    if k != "wall":
        print(f"  {k:13} {med['plain'][k]:.2f} / {med['virtio-fs'][k]:.2f} / {med['9p'][k]:.2f}")
reads = {line.split(':')[0].strip(): float(line.split(',')[1].split()[0]) for line in open(f"{s}/reads")}
print(f"1 GiB read: virtio-fs {reads['virtio-fs']:.0f} MiB/s, 9p {reads['9p']:.0f} MiB/s, ratio {reads['virtio-fs'] / reads['9p']:.2f}")
PY
