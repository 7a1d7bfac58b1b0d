#!/usr/bin/env bash
# Matrix speed (issue #5): 2 kernels (Debian's 6.1, and with the demo patch series)
# x 3 backings (FS/DAX xfs and ext4, hugetlbfs) x 4 values of N (1, 10, 100, 1000),
# the default spec: each kernel built once (cached here), each kernel booted once per
# pmem file system, not once per cell. Prints wall time, boots and cells per minute.
# JOBS=2 benchmarks/matrix.sh runs two cells at once (`daxrig matrix --jobs 2`).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
daxrig=$PWD/.build/release/daxrig
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
cat > "$scratch/bench.toml" <<TOML
name = "bench"
specs = ["default"]
[[kernel]]
name = "unpatched"
[[kernel]]
name = "demo-patch"
patches = "$PWD/kernels/patches/demo"
TOML
"$daxrig" kernel build >/dev/null 2>&1
"$daxrig" kernel build --patches kernels/patches/demo >/dev/null 2>&1
t0=$(date +%s.%N)
status=0
jobs=${JOBS:-1}
"$daxrig" matrix "$scratch/bench.toml" --jobs "$jobs" --store "$scratch/results.sqlite" > "$scratch/table.txt" 2> "$scratch/log.txt" || status=$?
t1=$(date +%s.%N)
cat "$scratch/table.txt"
boots=$(grep -c '^\[boot\]' "$scratch/log.txt" || true)
python3 - "$t0" "$t1" "$boots" "$status" "$jobs" <<'PY'
import sys
t0, t1, boots, status, jobs = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
cells = 2 * 3 * 4
wall = t1 - t0
print(f"matrix 2 kernels x 3 backings x 4 N, --jobs {jobs}: {cells} cells in {wall:.1f} s wall, {boots} boots, "
      f"{cells / wall * 60:.1f} cells per minute (exit status {status})")
PY
