#!/usr/bin/env bash
# The pmem phase (issue 18): `daxrig boot -- true` on the cached default kernel, its
# first nvdimm formatted in the guest (ndctl create-namespace, mkfs.xfs: --fresh-pmem,
# the floor it is measured against) and from a template (PmemTemplates), interleaved,
# median of RUNS each. Prints the pmem phase (the agent's start to the pmem mounted
# with DAX confirmed) and the whole boot, each as a ratio to the fresh one.
# Goal: the pmem phase from a template at most 0.2x the fresh one.
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
runs=${RUNS:-7}
scratch=$(mktemp -d /var/tmp/daxrig-pmembench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

quiet "$daxrig" kernel build
quiet "$daxrig" boot -- true    # the image, and the template of this kernel and shape

one() {  # one NAME ARGS...: a boot, its wall time and its phases in $scratch/NAME.json
  local name=$1; shift
  local t0 t1; t0=$(now); "$daxrig" boot --json "$@" -- true > "$scratch/$name.json" 2>"$scratch/$name.err"; t1=$(now)
  python3 - "$scratch/$name.json" "$t0" "$t1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["exitStatus"] == 0, d["message"]
phases = {p["name"]: p["seconds"] for p in d["phases"]}
json.dump({"wall": float(sys.argv[3]) - float(sys.argv[2]), "pmem": phases["pmem"]}, open(sys.argv[1] + ".sum", "w"))
PY
}

echo "daxrig boot -- true, pmem 2 GiB xfs, $runs runs each, interleaved:"
for i in $(seq "$runs"); do
  one "fresh$i" --fresh-pmem
  one "template$i"
  python3 - "$scratch" "$i" <<'PY'
import json, sys
s, i = sys.argv[1], sys.argv[2]
f, t = (json.load(open(f"{s}/{k}{i}.json.sum")) for k in ("fresh", "template"))
print(f"  fresh: pmem {f['pmem']:.2f} s, boot {f['wall']:.2f} s   template: pmem {t['pmem']:.2f} s, boot {t['wall']:.2f} s")
PY
done
grep -q '\[template\] pmem from' "$scratch/template1.err" || { echo "the template boots did not take the template:"; tail -20 "$scratch/template1.err"; exit 1; }

python3 - "$scratch" "$runs" <<'PY'
import json, statistics, sys
s, n = sys.argv[1], int(sys.argv[2])
def median(kind, field):
    return statistics.median(json.load(open(f"{s}/{kind}{i}.json.sum"))[field] for i in range(1, n + 1))
fp, tp, fw, tw = median("fresh", "pmem"), median("template", "pmem"), median("fresh", "wall"), median("template", "wall")
print(f"median pmem phase: fresh {fp:.2f} s (floor), template {tp:.2f} s, ratio {tp / fp:.2f} (goal <= 0.2)")
print(f"median boot: fresh {fw:.2f} s, template {tw:.2f} s, ratio {tw / fw:.2f}")
PY
