#!/usr/bin/env bash
# Kernel-build speed goals (issue #2), measured on this machine:
#   1. cold build of the default kernel, and its ratio to plain `make -j2 bzImage`
#      of the same tree and .config (goal <= 1.05);
#   2. a cache hit, end to end (goal <= 1 s);
#   3. the default kernel plus one new patch touching one .c file (goal <= 90 s).
# Cold means cold: a fresh daxrig cache and a fresh, empty ccache directory.
# Prints one line per figure; takes about 12 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
scratch=$(mktemp -d /var/tmp/daxrig-bench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }

# 1. Cold: a fresh cache (tarball extracted anew) and an empty ccache.
export DAXRIG_CACHE=$scratch/cache CCACHE_DIR=$scratch/ccache
t0=$(now); "$daxrig" kernel build --json > "$scratch/manifest.json"; t1=$(now)
cold=$(secs "$t0" "$t1")
read -r extract config makes < <(python3 -c "import json;t=json.load(open('$scratch/manifest.json'))['timings'];print(f\"{t['sourceSeconds']:.1f} {t['configSeconds']:.1f} {t['makeSeconds']:.1f}\")")
key=$(python3 -c "import json;print(json.load(open('$scratch/manifest.json'))['key'])")
tree=$(ls -d "$DAXRIG_CACHE"/trees/*/src)

# Plain make of the same tree and .config, in a fresh O= directory, no ccache.
mkdir -p "$scratch/plain" && cp "$DAXRIG_CACHE/kernels/$key/config" "$scratch/plain/.config"
t0=$(now); make -s -C "$tree" O="$scratch/plain" -j"$(nproc)" LOCALVERSION= bzImage >/dev/null 2>&1; t1=$(now)
plain=$(secs "$t0" "$t1")
echo "cold build (fresh cache, empty ccache): ${cold} s total = ${extract} s extract+import (once per tarball) + ${config} s config + ${makes} s make"
echo "plain make -j$(nproc) bzImage, same tree and .config: ${plain} s"
python3 -c "print(f'cold ratio, daxrig minus one-time extraction / plain make: {($cold - $extract) / $plain:.3f} (goal <= 1.05)')"
python3 -c "print(f'cold ratio, daxrig including extraction / plain make: {$cold / $plain:.3f}')"

# 2. Cache hit, median of 5.
hits=()
for _ in 1 2 3 4 5; do t0=$(now); "$daxrig" kernel build >/dev/null; t1=$(now); hits+=("$(secs "$t0" "$t1")"); done
python3 -c "import statistics;print(f'cache hit, median of 5: {statistics.median([$(IFS=,; echo "${hits[*]}")]):.2f} s (goal <= 1 s)')"

# 3. One new patch touching one .c file (new contents each run, so never cached).
series=$scratch/series && mkdir -p "$series"
( cd "$tree" && sed -i "0,/^#include/s//\/* daxrig bench $(date +%s%N) *\/\n#include/" mm/mremap.c && git diff -- mm/mremap.c > "$series/0001-bench.patch" && git checkout -q -- mm/mremap.c )
echo "0001-bench.patch" > "$series/series"
t0=$(now); "$daxrig" kernel build --patches "$series" >/dev/null; t1=$(now)
echo "default kernel + one patch touching one .c file: $(secs "$t0" "$t1") s (goal <= 90 s)"
