#!/usr/bin/env bash
# Review finding 7's second half (issue 13): after MADV_DONTNEED zaps a shared PMD table
# in place, every other sharer's TLB must be flushed. v2 through patch 6 flushes one
# sharer at a time (flush_tlb_range() per vma); patch 7 bumps every sharer's TLB
# generation and sends one round of IPIs to the union of their CPUs. That can only
# show where sharers run on many CPUs at once: the guest gets CPUS vCPUs (8 by default,
# more than this host's cores, which TCG allows), SHARERS processes share one table on
# xfs and check their stripes without pause, and one mutator zaps 1 to 16 stripes (the
# whole GiB every third time) and faults them back, for SOAK seconds. Prints the time
# the zapping process spends in each madvise(MADV_DONTNEED) call (the zap and the
# flushes, not the faults after it), on v2 and on the floor (v2 through patch 6,
# measured in the same run), and their ratio, RUNS times each.
#   benchmarks/zap-flush.sh                       CPUS=8 SHARERS=16 SOAK=30 RUNS=2
set -euo pipefail
cd "$(dirname "$0")/.."
cpus=${CPUS:-8}; sharers=${SHARERS:-16}; soak=${SOAK:-30}; runs=${RUNS:-2}
source benchmarks/lib.sh
sharing=(--fragment kernels/configs/pmem-dax.config --fragment kernels/configs/fsdax-pmd-share.config)
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
series_through 6 "$dir/per-vma-series"
pervma=$(key --patches "$dir/per-vma-series" "${sharing[@]}")
v2=$(key --patches kernels/patches/fsdax-pmd-share "${sharing[@]}")
cat > "$dir/zap.toml" <<TOML
name = "zap-flush"
cpus = $cpus
timeout = $((soak + 900))
[[stress]]
backing = "fsdax-xfs"
sharers = $sharers
ops = ["madv-dontneed"]
soak = $soak
expect = ["data-intact", "kernel-log-clean", "shares"]
TOML
for run in $(seq "$runs"); do
  for kernel in pervma v2; do
    "$daxrig" run --no-store --kernel "${!kernel}" --spec "$dir/zap.toml" --json > "$dir/$kernel-$run.json" || true
  done
done
python3 - "$dir" "$runs" "$cpus" "$sharers" "$soak" <<'PY'
import json, sys, datetime, statistics
d, runs, cpus, sharers, soak = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
def figures(path):
    s = json.load(open(path))["stress"][0]
    zapper = next(p for p in s["processDetails"] if p.get("op") == "madv-dontneed")
    ok = all(v["passed"] for v in s["verdicts"])
    return zapper["callSeconds"] / zapper["calls"] * 1e3, zapper["calls"], ok
print(f"zap-flush {datetime.date.today()}: {cpus} vCPUs, {sharers} sharers of one table on xfs, MADV_DONTNEED for {soak} s:")
print("  milliseconds per madvise(MADV_DONTNEED) call of the zapping process (calls), per-vma flush (v2 through 6/7) -> one shootdown (v2)")
ratios = []
for run in range(1, runs + 1):
    (m0, n0, ok0), (m1, n1, ok1) = figures(f"{d}/pervma-{run}.json"), figures(f"{d}/v2-{run}.json")
    ratios.append(m1 / m0)
    print(f"  run {run}: {m0:.2f} ms ({n0}){'' if ok0 else ' FAILED'} -> {m1:.2f} ms ({n1}){'' if ok1 else ' FAILED'}: {m1 / m0:.2f}x")
print(f"  median ratio {statistics.median(ratios):.2f}x")
PY
