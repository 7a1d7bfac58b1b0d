#!/usr/bin/env bash
# `daxrig run` speed (issue #4), with a cached kernel and image:
#   benchmarks/run.sh              the default spec (FS/DAX xfs and ext4 plus the
#                                  hugetlbfs control, N = 1..1000, S = 1 GiB): goal <= 90 s
#   benchmarks/run.sh SPEC.toml    any spec (benchmarks/scale.sh: 10,000 processes)
# Prints the wall time and, per workload, its time in the guest, the guest's memory
# and what it used with everything mapped, and the page-table figures.
set -euo pipefail
cd "$(dirname "$0")/.."
spec=${1:-}
swift build -c release >/dev/null
daxrig=$PWD/.build/release/daxrig
"$daxrig" kernel build >/dev/null 2>&1
out=$(mktemp); trap 'rm -f "$out"' EXIT
t0=$(date +%s.%N)
status=0
"$daxrig" run ${spec:+--spec "$spec"} --json > "$out" 2>/dev/null || status=$?
t1=$(date +%s.%N)
python3 - "$out" "$t0" "$t1" "$status" "${spec:-the default spec}" "${spec:-(goal <= 90 s)}" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
mib = lambda b: f"{(b or 0) / 2**20:.0f} MiB"
for r in report['workloads']:
    ok = all(v['passed'] for v in r['verdicts']) and not r.get('error')
    print(f"  {r['name']:<18} {r.get('seconds') or 0:7.1f} s in the guest; guest memory {mib(r.get('guestMemTotalBytes'))},"
          f" used with all mapped {mib(r.get('guestMemUsedBytes'))}; PageTables delta {mib(r.get('pageTablesDeltaBytes'))},"
          f" PMD pages {r.get('pmdPagesMeasured')}, faults 1st/later {r.get('firstWorkerFaults')}/{r.get('laterWorkersMedianFaults')}"
          + ("" if ok else f"  (not all expectations held: {r.get('error') or [v['expectation'] for v in r['verdicts'] if not v['passed']]})"))
goal = sys.argv[6] if sys.argv[6].startswith("(goal") else ""
print(f"daxrig run, {sys.argv[5]}: {float(sys.argv[3]) - float(sys.argv[2]):.1f} s wall, exit status {sys.argv[4]} {goal}")
PY
