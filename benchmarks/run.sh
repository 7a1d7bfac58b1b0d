#!/usr/bin/env bash
# `daxrig run` speed goal (issue #4): the default run (FS/DAX xfs and ext4 plus the
# hugetlbfs control, N = 1, 10, 100, 1000, S = 1 GiB) with a cached kernel and
# image, goal <= 90 s wall; prints the wall time and each workload's guest seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
daxrig=$PWD/.build/release/daxrig
"$daxrig" kernel build >/dev/null 2>&1
out=$(mktemp); trap 'rm -f "$out"' EXIT
t0=$(date +%s.%N)
"$daxrig" run --json > "$out" 2>/dev/null || true
t1=$(date +%s.%N)
python3 - "$out" "$t0" "$t1" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
for r in report['workloads']:
    print(f"  {r['name']:<16} {r.get('seconds') or 0:6.1f} s in the guest"
          + ("" if all(v['passed'] for v in r['verdicts']) and not r.get('error') else "  (not all expectations held)"))
print(f"default daxrig run: {float(sys.argv[3]) - float(sys.argv[2]):.1f} s wall (goal <= 90 s)")
PY
