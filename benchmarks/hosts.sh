#!/usr/bin/env bash
# Cells per minute on 1, 2 and 3 libvirt hosts (issue 19), and what a boot on another
# host costs over a local one. The hosts are namespace hosts of this machine
# (scripts/test-host.sh): they share its two cores, so more hosts do not add CPU; the
# figures measure daxrig's own cost of hosts (uploads, streams, placement), and the
# floor is the same matrix on this machine alone, in the same run.
#   benchmarks/hosts.sh            6 cells (the default kernel, a 2-process workload)
#   CELLS=12 RUNS=3 benchmarks/hosts.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
scratch=$(mktemp -d /var/tmp/daxrig-hostbench.XXXXXX)
trap 'bash scripts/test-host.sh down dbh1 >/dev/null 2>&1; bash scripts/test-host.sh down dbh2 >/dev/null 2>&1; rm -rf "$scratch"' EXIT
runs=${RUNS:-1}
cells=${CELLS:-6}
quiet "$daxrig" kernel build
export DAXRIG_INSECURE_HOSTS=1  # namespace hosts, reached over qemu+tcp on a private link
one=$(bash scripts/test-host.sh up dbh1 61)
two=$(bash scripts/test-host.sh up dbh2 62)
{ echo 'name = "hostbench"'; echo 'specs = ["s.toml"]'; for i in $(seq "$cells"); do printf '[[kernel]]\nname = "k%s"\n' "$i"; done; } > "$scratch/m.toml"
printf 'name = "s"\n[[workload]]\nbacking = ["fsdax-xfs"]\nprocesses = 2\nsize = "64M"\nexpect = ["private", "data-intact"]\n' > "$scratch/s.toml"

# matrix NAME HOST...: the matrix on those hosts; wall time and status in NAME.sum, its log beside.
matrix() {
  local name=$1; shift
  local args=()
  for h in "$@"; do args+=(--host "$h"); done
  timed_run "$scratch/$name.sum" "$daxrig" matrix "$scratch/m.toml" --store "$scratch/$name.sqlite" "${args[@]}" \
    > "$scratch/$name.txt" 2> "$scratch/$name.log"
}

for i in $(seq "$runs"); do
  matrix "local$i" qemu:///system
  matrix "remote$i" "$one"
  matrix "two$i" qemu:///system "$one"
  matrix "three$i" qemu:///system "$one" "$two"
done

python3 - "$scratch" "$runs" "$cells" <<'PY'
import json, re, statistics, sys
s, n, cells = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def rate(name):
    walls = []
    for i in range(1, n + 1):
        r = json.load(open(f"{s}/{name}{i}.sum"))
        if r["status"] != 0:
            sys.exit(f"{name} run {i} failed (exit {r['status']}); see its log")
        walls.append(r["wall"])
    return cells / statistics.median(walls) * 60
floor = rate("local")
print(f"{cells} cells, median of {n} run(s), {__import__('datetime').date.today()}")
print(f"  1 host, this machine (floor): {floor:.1f} cells per minute")
for name, label in [("remote", "1 host, another (namespace)"), ("two", "2 hosts, this machine + 1"), ("three", "3 hosts, this machine + 2")]:
    r = rate(name)
    print(f"  {label}: {r:.1f} cells per minute, {r / floor:.2f}x the floor")
# The staging line each remote boot prints: "kernel uploaded, initrd uploaded (N MiB)"
# (kernel, image and pmem volume) the first time on a host, "kernel already there,
# initrd already there" (the pmem volume only) after.
first, later = [], []
for i in range(1, n + 1):
    for name in ("remote", "two", "three"):
        for line in open(f"{s}/{name}{i}.log"):
            m = re.search(r"kernel (uploaded|already there), initrd (uploaded|already there).*\(([\d.]+) s\)", line)
            if m:
                (later if m.group(1) == m.group(2) == "already there" else first).append(float(m.group(3)))
if first and later:
    print(f"  staging on a host: {statistics.median(first):.2f} s with an upload ({len(first)} boots), "
          f"{statistics.median(later):.2f} s without ({len(later)} boots: the pmem volume only)")
PY
