#!/usr/bin/env bash
# `daxrig run` speed (issues 4 and 18), with a cached kernel and image:
#   benchmarks/run.sh              the default spec (FS/DAX xfs and ext4 plus the
#                                  hugetlbfs control, N = 1..1000, S = 1 GiB): goal <= 90 s
#   benchmarks/run.sh SPEC.toml    any spec (benchmarks/scale.sh: 10,000 processes)
#   BASELINE=b2970cb benchmarks/run.sh
#                                  also that revision's daxrig (built in a worktree,
#                                  lib.sh) on its own default kernel, interleaved, RUNS
#                                  times each (default 1): issue 18's goal, <= 0.7x
# Prints the wall time and, per workload, its time in the guest split into the
# workload's phases (where the guest reports them), the guest's memory and what it used
# with everything mapped, and the page-table figures.
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
spec=${1:-}
runs=${RUNS:-1}
scratch=$(mktemp -d /var/tmp/daxrig-runbench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
quiet "$daxrig" kernel build
baseline=""
if [ -n "${BASELINE:-}" ]; then
  baseline=$(baseline_daxrig "$BASELINE")
  quiet "$baseline" kernel build
fi

one() {  # one NAME DAXRIG: a run into $scratch/NAME.json, its wall time and status beside it
  timed_run "$scratch/$1.sum" "$2" run ${spec:+--spec "$spec"} --json > "$scratch/$1.json" 2>"$scratch/$1.err"
}

for i in $(seq "$runs"); do
  one "d$i" "$daxrig"
  [ -z "$baseline" ] || one "b$i" "$baseline"
  python3 - "$scratch" "$i" "${BASELINE:-}" <<'PY'
import json, sys
s, i, base = sys.argv[1], sys.argv[2], sys.argv[3]
mib = lambda b: f"{(b or 0) / 2**20:.0f} MiB"
for who, label in [("d", "daxrig"), ("b", base)]:
    if who == "b" and not base: continue
    total = json.load(open(f"{s}/{who}{i}.sum"))
    print(f"run {i}, {label}: {total['wall']:.1f} s wall, exit status {total['status']}")
    try: report = json.load(open(f"{s}/{who}{i}.json"))
    except ValueError: continue
    for r in report['workloads']:
        ok = all(v['passed'] for v in r['verdicts']) and not r.get('error')
        phases = " ".join(f"{p['name']} {p['seconds']:.2f}" for p in r.get('phases') or [])
        print(f"  {r['name']:<18} {r.get('seconds') or 0:7.1f} s in the guest" + (f" [{phases}]" if phases else "")
              + f"; guest memory {mib(r.get('guestMemTotalBytes'))}, used with all mapped {mib(r.get('guestMemUsedBytes'))};"
              + f" PageTables delta {mib(r.get('pageTablesDeltaBytes'))}, PMD pages {r.get('pmdPagesMeasured')},"
              + f" faults 1st/later {r.get('firstWorkerFaults')}/{r.get('laterWorkersMedianFaults')}"
              + ("" if ok else f"  (not all expectations held: {r.get('error') or [v['expectation'] for v in r['verdicts'] if not v['passed']]})"))
PY
done

python3 - "$scratch" "$runs" "${BASELINE:-}" "${spec:-the default spec}" "$spec" <<'PY'
import json, statistics, sys
s, n, base, what, spec = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
median = lambda who: statistics.median(json.load(open(f"{s}/{who}{i}.sum"))["wall"] for i in range(1, n + 1))
d = median("d")
print(f"daxrig run, {what}: median of {n}, {d:.1f} s wall" + ("" if spec else " (goal <= 90 s)"))
if base:
    b = median("b")
    print(f"{base}'s daxrig run, its default kernel: {b:.1f} s wall; ratio {d / b:.2f}" + ("" if spec else " (goal <= 0.7)"))
PY
