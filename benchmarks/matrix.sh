#!/usr/bin/env bash
# Matrix speed (issues 5 and 18): 2 kernels (Debian's 6.1, and with the demo patch
# series) x 3 backings (FS/DAX xfs and ext4, hugetlbfs) x 4 values of N (1, 10, 100,
# 1000), the default spec: each kernel built once (cached here), each kernel booted once
# per pmem file system, not once per cell. Prints wall time, boots and cells per minute.
#   JOBS=2 benchmarks/matrix.sh             two cells at once (`daxrig matrix --jobs 2`)
#   BASELINE=b2970cb benchmarks/matrix.sh   also that revision's daxrig (lib.sh) with
#                                           its own kernels, interleaved, RUNS times each
#                                           (default 1): issue 18's goal, >= 1.5x the
#                                           baseline's cells per minute
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
scratch=$(mktemp -d /var/tmp/daxrig-matrixbench.XXXXXX); trap 'rm -rf "$scratch"' EXIT
runs=${RUNS:-1}
jobs=${JOBS:-1}
cat > "$scratch/bench.toml" <<TOML
name = "bench"
specs = ["default"]
[[kernel]]
name = "unpatched"
[[kernel]]
name = "demo-patch"
patches = "$PWD/kernels/patches/demo"
TOML
quiet "$daxrig" kernel build
quiet "$daxrig" kernel build --patches kernels/patches/demo
baseline=""
if [ -n "${BASELINE:-}" ]; then
  baseline=$(baseline_daxrig "$BASELINE")
  quiet "$baseline" kernel build
  quiet "$baseline" kernel build --patches kernels/patches/demo
fi

one() {  # one NAME DAXRIG: the matrix, its wall time and status in $scratch/NAME.sum, its log beside
  timed_run "$scratch/$1.sum" "$2" matrix "$scratch/bench.toml" --jobs "$jobs" --store "$scratch/$1.sqlite" > "$scratch/$1.txt" 2> "$scratch/$1.log"
}

cells=$((2 * 3 * 4))
for i in $(seq "$runs"); do
  one "d$i" "$daxrig"
  [ -z "$baseline" ] || one "b$i" "$baseline"
  [ "$i" -gt 1 ] || cat "$scratch/d1.txt"
  python3 - "$scratch" "$i" "$cells" "$jobs" "${BASELINE:-}" <<'PY'
import json, sys
s, i, cells, jobs, base = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
for who, label in [("d", "daxrig"), ("b", base)]:
    if who == "b" and not base: continue
    r = json.load(open(f"{s}/{who}{i}.sum"))
    boots = sum(line.startswith("[boot]") for line in open(f"{s}/{who}{i}.log"))
    print(f"run {i}, {label}: {cells} cells in {r['wall']:.1f} s wall, {boots} boots, "
          f"{cells / r['wall'] * 60:.1f} cells per minute, --jobs {jobs} (exit status {r['status']})")
PY
done

python3 - "$scratch" "$runs" "$cells" "${BASELINE:-}" <<'PY'
import json, statistics, sys
s, n, cells, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rate = lambda who: statistics.median(cells / json.load(open(f"{s}/{who}{i}.sum"))["wall"] * 60 for i in range(1, n + 1))
d = rate("d")
print(f"matrix 2 kernels x 3 backings x 4 N: median of {n}, {d:.1f} cells per minute")
if base:
    b = rate("b")
    print(f"{base}'s daxrig: {b:.1f} cells per minute; ratio {d / b:.2f} (goal >= 1.5)")
PY
