#!/usr/bin/env bash
# Bisect speed (issue #6): the shipped demo (kernels/bisect-demo: 8 commits on Debian's
# 6.1, one that does not build, one FS/DAX regression) bisected from a fresh daxrig
# cache (kernels, work trees and the guest image built anew; ccache as this machine
# has it). Prints the kernel builds and boots against the goal ceil(log2(8)) + 2, the
# wall time of the whole bisect, and the time of one incremental step.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
daxrig=$PWD/.build/release/daxrig
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
bash kernels/bisect-demo/make-repo.sh "$scratch/linux" >/dev/null
export DAXRIG_CACHE=$scratch/cache
t0=$(date +%s.%N)
"$daxrig" bisect --git "$scratch/linux" --good demo-good --bad demo-bad --spec kernels/bisect-demo/no-fallback.toml \
  --expect no-fallback --store "$scratch/results.sqlite" --state "$scratch/bisect" --json > "$scratch/state.json" 2> "$scratch/log.txt"
t1=$(date +%s.%N)
"$daxrig" bisect --resume --state "$scratch/bisect" > "$scratch/result.txt"
head -1 "$scratch/result.txt"
if ! grep -q "dax: compare PMD colours in PMD units" "$scratch/result.txt"; then
  echo "bisect.sh: the demo bisect did not name the culprit; its table and logs are kept in ${KEEP:=/tmp/daxrig-bisect-bench-failed}" >&2
  cat "$scratch/result.txt" >&2
  rm -rf "$KEEP"; mkdir -p "$KEEP"; cp -r "$scratch/state.json" "$scratch/result.txt" "$scratch/log.txt" "$scratch/cache/logs" "$KEEP/"
  exit 1
fi
python3 - "$t0" "$t1" "$scratch/state.json" <<'PY'
import json, math, statistics, sys
t0, t1, path = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
state = json.load(open(path))
steps = state["steps"]
built = [s for s in steps if s.get("buildSeconds") is not None]
failed = [s for s in steps if s.get("buildSeconds") is None and not s["cacheHit"]]
boots = sum(len(s["runIDs"]) for s in steps)
goal = math.ceil(math.log2(8)) + 2
incremental = [s for s in steps if s["role"] == "bisect" and s["verdict"] != "skip"]
print(f"demo bisect: {len(steps)} commits tested, {len(built)} kernel builds + {len(failed)} that did not build, {boots} boots "
      f"(goal {goal} for 8 commits, skips aside); {t1 - t0:.1f} s wall from a fresh daxrig cache")
first = steps[0]
print(f"first build (new work tree, ccache warm): {first['buildSeconds']:.1f} s; step total {first['seconds']:.1f} s")
print("incremental steps: build " + ", ".join(f"{s['buildSeconds']:.1f}" for s in incremental)
      + f" s; whole step (build, boot, run, judge) median {statistics.median(s['seconds'] for s in incremental):.1f} s")
PY
