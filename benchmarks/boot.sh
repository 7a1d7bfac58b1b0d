#!/usr/bin/env bash
# Boot speed (issues 3 and 18): `daxrig boot -- true` with a cached kernel and image
# (pmem 2 GiB, xfs, DAX confirmed), median of RUNS, split into phases, against two
# floors measured in the same run, interleaved:
# - the issue-18 floor: plain qemu-system-x86_64 booting the same bzImage with a
#   minimal static /init that powers off at once, and the same devices (nvdimm,
#   virtio-serial, virtio-rng): the kernel's own time to userspace and back;
#   goal daxrig <= 1.3x;
# - with BASELINE=REV (e.g. b2970cb): that revision's daxrig, built optimized in a
#   worktree under /var/tmp (kept for the next run), booting its own default kernel;
#   goal daxrig <= 0.6x.
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
runs=${RUNS:-5}
scratch=$(mktemp -d /var/tmp/daxrig-bootbench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

quiet "$daxrig" kernel build            # cached kernel
quiet "$daxrig" boot --fs xfs -- true    # cached image, KVM verdict remembered, pmem template
kernel=$("$daxrig" kernel build 2>/dev/null | tail -1)/bzImage

baseline=""
if [ -n "${BASELINE:-}" ]; then
  baseline=$(baseline_daxrig "$BASELINE")
  quiet "$baseline" kernel build
  quiet "$baseline" boot --fs xfs -- true
fi

# The floor's initrd: one static program that powers the guest off.
cat > "$scratch/off.c" <<'C'
#include <sys/reboot.h>
#include <unistd.h>
int main(void) { reboot(RB_POWER_OFF); return 1; }
C
gcc -static -Os -o "$scratch/init" "$scratch/off.c"
(cd "$scratch" && echo init | cpio -o -H newc --quiet > floor.cpio)

floor() {
  truncate -s 2G "$scratch/pmem.img"
  qemu-system-x86_64 -accel tcg -machine q35,nvdimm=on -nodefaults -display none -no-reboot \
    -smp 2 -m 512M,slots=1,maxmem=2560M \
    -object memory-backend-ram,id=ram0,size=512M -numa node,nodeid=0,cpus=0-1,memdev=ram0 \
    -object memory-backend-file,id=nv0,share=on,mem-path="$scratch/pmem.img",size=2G,align=2M,pmem=on \
    -device nvdimm,memdev=nv0,id=nvdimm0,node=0 \
    -kernel "$kernel" -initrd "$scratch/floor.cpio" \
    -append "console=ttyS0 rdinit=/init panic=-1 oops=panic reboot=t no_timer_check" \
    -serial file:"$scratch/console.log" \
    -device virtio-serial-pci -chardev null,id=agent -device virtserialport,chardev=agent,name=org.daxrig.agent \
    -device virtio-rng-pci 2>/dev/null
  grep -q "reboot: Power down" "$scratch/console.log" || { echo "the floor's guest did not power off:"; tail -5 "$scratch/console.log"; exit 1; }
  rm -f "$scratch/pmem.img"
}

timed() {  # timed FILE CMD...: wall seconds of CMD into FILE
  local file=$1; shift
  local t0 t1; t0=$(now); "$@"; t1=$(now)
  python3 -c "open('$file','w').write(str($t1 - $t0))"
}

echo "$runs runs each, interleaved (seconds of wall time):"
for i in $(seq "$runs"); do
  timed "$scratch/d$i.wall" sh -c "'$daxrig' boot --json -- true > '$scratch/d$i.json' 2>/dev/null"
  timed "$scratch/f$i.wall" floor
  line="  daxrig $(cat "$scratch/d$i.wall" | cut -c1-5)  floor $(cut -c1-5 "$scratch/f$i.wall")"
  if [ -n "$baseline" ]; then
    timed "$scratch/b$i.wall" sh -c "'$baseline' boot -- true >/dev/null 2>&1"
    line="$line  $BASELINE $(cut -c1-5 "$scratch/b$i.wall")"
  fi
  echo "$line  [$(python3 -c "import json; d=json.load(open('$scratch/d$i.json')); print(' '.join(f\"{p['name']} {p['seconds']:.2f}\" for p in d['phases']), d['accelerator'])")]"
done

python3 - "$scratch" "$runs" "${BASELINE:-}" <<'PY'
import statistics, sys
s, n, base = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def median(k): return statistics.median(float(open(f"{s}/{k}{i}.wall").read()) for i in range(1, n + 1))
d, f = median("d"), median("f")
print(f"median: daxrig boot {d:.2f} s, floor (plain QEMU, /init powers off) {f:.2f} s, ratio {d / f:.2f} (goal <= 1.3)")
import json
phases = [{p["name"]: p["seconds"] for p in json.load(open(f"{s}/d{i}.json"))["phases"]} for i in range(1, n + 1)]
part = {k: statistics.median(p.get(k, 0) for p in phases) for k in ("prepare", "start", "kernel", "pmem", "command", "teardown")}
print("median phases: " + ", ".join(f"{k} {v:.2f}" for k, v in part.items()))
libvirt = part["start"] + part["teardown"]
print(f"libvirt's own start and teardown (the floor starts QEMU itself and ends with the guest): {libvirt:.2f} s; "
      f"daxrig without them {d - libvirt:.2f} s, ratio {(d - libvirt) / f:.2f}")
if base:
    b = median("b")
    print(f"median: {base}'s daxrig boot {b:.2f} s, ratio {d / b:.2f} (goal <= 0.6)")
PY
