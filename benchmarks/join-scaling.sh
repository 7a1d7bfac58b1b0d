#!/usr/bin/env bash
# Review finding 7 (issue 13): what joining a shared PMD table costs as N grows. A fault
# that finds no table walks the file's i_mmap tree for one it may join; on xfs the
# first candidate is joinable and the walk stops at once, on ext4 (104 of 512 regions
# unaligned, so every table holds PTE tables and none may be joined) every process
# walks every earlier process's vma. Prints, per kernel and file system, the workload's
# time in the guest for N processes each mapping 1 GiB, and its ratio to unpatched 6.1
# (the floor, measured in the same run).
#   benchmarks/join-scaling.sh           N = 1000
#   N=10000 benchmarks/join-scaling.sh   (unpatched alone takes ~20 min under TCG)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-1000}
source benchmarks/lib.sh
sharing=(--fragment kernels/configs/pmem-dax.config --fragment kernels/configs/fsdax-pmd-share.config)
unpatched=$(key)
v1=$(key --patches kernels/patches/fsdax-pmd-share-v1 "${sharing[@]}")
v2=$(key --patches kernels/patches/fsdax-pmd-share "${sharing[@]}")
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
for kernel in unpatched v1 v2; do
  t0=$(date +%s)
  # The default spec expects `private`, which a sharing kernel fails: only the figures count here.
  "$daxrig" run --no-store --kernel "${!kernel}" --processes "$n" --backings fsdax-xfs,fsdax-ext4 --json > "$dir/$kernel.json" || true
  echo "$kernel: $(( $(date +%s) - t0 )) s wall" >&2
done
python3 - "$n" "$dir" <<'PY'
import json, sys
n, d = sys.argv[1], sys.argv[2]
rows = {k: {w["name"]: w for w in json.load(open(f"{d}/{k}.json"))["workloads"]} for k in ("unpatched", "v1", "v2")}
print(f"join-scaling {__import__('datetime').date.today()}: N = {n} x 1 GiB, seconds in the guest (ratio to unpatched)")
for fs in ("fsdax-xfs", "fsdax-ext4"):
    name = f"{fs}-n{n}"
    floor = rows["unpatched"].get(name, {}).get("seconds")
    cells = []
    for k in ("unpatched", "v1", "v2"):
        w = rows[k].get(name)
        s = w and w.get("seconds")
        cells.append(f"{k} {s:.1f} s ({s / floor:.2f}x), {w['pmdPagesMeasured']} PMD pages" if s and floor else f"{k} -")
    print(f"  {fs}: " + "; ".join(cells))
PY
