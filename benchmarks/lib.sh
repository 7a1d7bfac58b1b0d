# Sourced by the benchmarks that build kernels by key: an optimized daxrig, and
# key ARGS... printing the cache key of `daxrig kernel build ARGS...` (built if need be).
swift build -c release >/dev/null
daxrig=$PWD/.build/release/daxrig
key() { "$daxrig" kernel build "$@" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])'; }
