# Sourced by the benchmarks (from the package root): an optimized daxrig; quiet CMD...
# for a step whose output is not the figure; key ARGS... printing the cache key of
# `daxrig kernel build ARGS...` (built if need be); now, the wall clock in seconds;
# timed_run, a command's wall time and status recorded;
# baseline_daxrig REV, an earlier revision's daxrig to measure against.
swift build -c release >/dev/null
daxrig=$PWD/.build/release/daxrig
# Quiet, but a failure says why (a stopped libvirtd once left only a silent exit).
quiet() {
  local err; err=$(mktemp)
  "$@" >/dev/null 2>"$err" || { echo "failed: $*"; tail -20 "$err"; rm -f "$err"; exit 1; }
  rm -f "$err"
}
key() { "$daxrig" kernel build "$@" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])'; }
# series_through N DIR: the first N patches of the v2 series (kernels/patches/fsdax-pmd-share)
# as a series directory DIR of symlinks, for a benchmark's "before": the kernel key is of
# the patches' content, so a later run finds the same kernel in the cache.
series_through() {
  mkdir -p "$2"
  grep -v '^#' kernels/patches/fsdax-pmd-share/series | head -n "$1" > "$2/series"
  while read -r p; do ln -sf "$PWD/kernels/patches/fsdax-pmd-share/$p" "$2/$p"; done < "$2/series"
}
now() { date +%s.%N; }
# timed_run FILE CMD...: runs CMD (a failure is recorded, not fatal) and writes its wall
# time and exit status to FILE as JSON, {"wall": seconds, "status": n}.
timed_run() {
  local file=$1 t0 t1 status=0
  shift
  t0=$(now)
  "$@" || status=$?
  t1=$(now)
  python3 -c "import json, sys; json.dump({'wall': $t1 - $t0, 'status': $status}, open(sys.argv[1], 'w'))" "$file"
}
# baseline_daxrig REV: that revision's daxrig, built optimized in a worktree under
# /var/tmp (kept for the next run: a build is minutes), for goals measured against it
# in the same run. Prints the binary's path.
baseline_daxrig() {
  local tree=/var/tmp/daxrig-baseline-$1
  [ -d "$tree" ] || git worktree add --detach "$tree" "$1" >/dev/null 2>&1 \
    || { echo "cannot check out $1 into $tree" >&2; exit 1; }
  (cd "$tree" && swift build -c release >/dev/null 2>&1) || { echo "cannot build $1's daxrig in $tree" >&2; exit 1; }
  echo "$tree/.build/release/daxrig"
}
