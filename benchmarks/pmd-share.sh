#!/usr/bin/env bash
# Issue 7's table: PMD page tables of N processes mapping one 1 GiB file, on unpatched
# 6.1 and with kernels/patches/fsdax-pmd-share (CONFIG_FSDAX_PMD_SHARE=y), FS/DAX xfs
# beside the hugetlbfs control (kernels/specs/pmd-share-table.toml).
#   benchmarks/pmd-share.sh              N = 1 to 10,000 (the unpatched 10,000 takes ~20 min under TCG)
#   MAX_N=1000 benchmarks/pmd-share.sh   stop at 1000
#   KERNELS=patched benchmarks/pmd-share.sh   re-measure the series' column alone (a new
#                                            series; unpatched 6.1 and hugetlbfs did not change)
# Prints, per N: the global PageTables growth and PMD table pages, the first and later
# workers' faults, and the RAM the patch saves against the RFC's formula
# (mapped bytes / 2 MiB) x 8 bytes x processes.
set -euo pipefail
cd "$(dirname "$0")/.."
max=${MAX_N:-10000}
source benchmarks/lib.sh
unpatched=$(key)
patched=$(key --patches kernels/patches/fsdax-pmd-share --fragment kernels/configs/pmem-dax.config --fragment kernels/configs/fsdax-pmd-share.config)
processes=$(python3 -c "print(','.join(str(n) for n in [1, 10, 100, 1000, 10000] if n <= $max))")
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
kernels=${KERNELS:-unpatched patched}
for kernel in $kernels; do
  backings=fsdax-xfs; [ $kernel = unpatched ] && backings=fsdax-xfs,hugetlbfs
  t0=$(date +%s)
  "$daxrig" run --no-store --kernel "${!kernel}" --spec kernels/specs/pmd-share-table.toml \
      --processes "$processes" --backings "$backings" --json > "$dir/$kernel.json" || true
  echo "$kernel ($backings): $(( $(date +%s) - t0 )) s wall" >&2
done
python3 - "$dir/unpatched.json" "$dir/patched.json" <<'PY'
import json, sys
rows = {}
import os
for label, path in (("unpatched", sys.argv[1]), ("patched", sys.argv[2])):
    if not os.path.exists(path): continue
    for w in json.load(open(path))["workloads"]:
        kind = "hugetlbfs" if w["name"].startswith("hugetlbfs") else label
        rows.setdefault(w["processes"], {})[kind] = w
def cell(w):
    if w is None: return "-"
    ok = all(v["passed"] for v in w["verdicts"]) and not w.get("error")
    return (f"+{w['pageTablesDeltaBytes'] / 1024:,.0f} KiB, {w['pmdPagesMeasured']} PMD pages, faults {w.get('firstWorkerFaults')}/{w.get('laterWorkersMedianFaults') or '-'}"
            + ("" if ok else " (FAILED: " + ", ".join(v["expectation"] for v in w["verdicts"] if not v["passed"]) + ")"))
print("| N | unpatched FS/DAX (xfs) | patched FS/DAX (xfs) | hugetlbfs (control) | saved, measured | RFC formula |")
print("|---|---|---|---|---|---|")
for n in sorted(rows):
    r = rows[n]
    saved = "-"
    if "unpatched" in r and "patched" in r:
        saved = f"{(r['unpatched']['pageTablesDeltaBytes'] - r['patched']['pageTablesDeltaBytes']) / 1024:,.0f} KiB"
    formula = (1 << 30) // (2 << 20) * 8 * n
    print(f"| {n:,} | {cell(r.get('unpatched'))} | {cell(r.get('patched'))} | {cell(r.get('hugetlbfs'))} | {saved} | {formula / 1024:,.0f} KiB |")
PY
