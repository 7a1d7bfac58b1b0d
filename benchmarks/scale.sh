#!/usr/bin/env bash
# Scale goal (issue #4): N = 10,000 processes x 1 GiB in one guest, FS/DAX (xfs) and
# the hugetlbfs control (kernels/specs/scale-10k.toml), guest memory sized by daxrig.
# Prints the wall time, each workload's time in the guest, the guest's memory and
# what N workers with everything mapped used of it, and the page-table figures.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
daxrig=$PWD/.build/release/daxrig
"$daxrig" kernel build >/dev/null 2>&1
out=$(mktemp); trap 'rm -f "$out"' EXIT
t0=$(date +%s.%N)
status=0
"$daxrig" run --spec kernels/specs/scale-10k.toml --json > "$out" 2>/dev/null || status=$?
t1=$(date +%s.%N)
python3 - "$out" "$t0" "$t1" "$status" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
mib = lambda b: f"{(b or 0) / 2**20:.0f} MiB"
for r in report['workloads']:
    ok = all(v['passed'] for v in r['verdicts']) and not r.get('error')
    print(f"  {r['name']:<18} {r.get('seconds') or 0:7.1f} s in the guest; guest memory {mib(r.get('guestMemTotalBytes'))},"
          f" used with all mapped {mib(r.get('guestMemUsedBytes'))}; PageTables delta {mib(r.get('pageTablesDeltaBytes'))},"
          f" PMD pages {r.get('pmdPagesMeasured')}, faults 1st/later {r.get('firstWorkerFaults')}/{r.get('laterWorkersMedianFaults')}"
          + ("" if ok else f"  (not all expectations held: {r.get('error') or [v['expectation'] for v in r['verdicts'] if not v['passed']]})"))
print(f"10,000 processes x 1 GiB: {float(sys.argv[3]) - float(sys.argv[2]):.1f} s wall, daxrig exit status {sys.argv[4]}")
PY
