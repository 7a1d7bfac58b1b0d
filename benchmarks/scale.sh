#!/usr/bin/env bash
# Scale goal (issue #4): N = 10,000 processes x 1 GiB in one guest, FS/DAX (xfs) and
# the hugetlbfs control (kernels/specs/scale-10k.toml), guest memory sized by daxrig.
# Wall time, time in the guest, guest memory and its use with all 10,000 mapped.
exec "$(dirname "$0")/run.sh" kernels/specs/scale-10k.toml
