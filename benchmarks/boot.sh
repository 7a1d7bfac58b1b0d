#!/usr/bin/env bash
# Boot speed goal (issue #3): `daxrig boot -- true` with a cached kernel and image,
# median of 5 (goal <= 5 s wall under TCG), split into phases; and side by side,
# the same bzImage and initrd booted by plain qemu-system-x86_64 with the same
# devices (nvdimm, virtio-serial, virtio-rng), for daxrig's overhead as a ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
runs=${RUNS:-5}
scratch=$(mktemp -d /var/tmp/daxrig-bootbench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
now() { date +%s.%N; }

quiet "$daxrig" kernel build            # cached kernel
quiet "$daxrig" boot --fs xfs -- true    # cached image, KVM verdict remembered

echo "daxrig boot -- true (pmem 2 GiB, xfs), $runs runs:"
for i in $(seq "$runs"); do
  t0=$(now); "$daxrig" boot --json -- true > "$scratch/d$i.json" 2>/dev/null; t1=$(now)
  python3 - "$scratch/d$i.json" "$t0" "$t1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); wall = float(sys.argv[3]) - float(sys.argv[2])
print(f"  {wall:5.2f} s wall  " + "  ".join(f"{p['name']} {p['seconds']:.2f}" for p in d['phases']) + f"  [{d['outcome']}, {d['accelerator']}]")
open(sys.argv[1] + ".wall", "w").write(str(wall))
PY
done

# Plain QEMU: the same kernel, the initrd daxrig made for `true` (kept with --keep),
# the same memory, nvdimm and channels; the agent powers off, QEMU exits.
"$daxrig" boot --keep -- true >/dev/null 2>"$scratch/keep.err"
rundir=$(sed -n 's/.*console log kept at \(.*\)\/console.log/\1/p' "$scratch/keep.err")
kernel=$(ls -t ~/.cache/daxrig/kernels/*/bzImage | head -1)
[ -n "${DAXRIG_CACHE:-}" ] && kernel=$(ls -t "$DAXRIG_CACHE"/kernels/*/bzImage | head -1)
cp "$rundir/initrd.cpio" "$scratch/initrd.cpio"; rm -rf "$rundir"
echo "plain qemu-system-x86_64, same bzImage, initrd and devices, $runs runs:"
for i in $(seq "$runs"); do
  truncate -s 2G "$scratch/pmem.img"
  t0=$(now)
  qemu-system-x86_64 -accel tcg -machine q35,nvdimm=on -nodefaults -display none -no-reboot \
    -smp 2 -m 512M,slots=1,maxmem=2560M \
    -object memory-backend-ram,id=ram0,size=512M -numa node,nodeid=0,cpus=0-1,memdev=ram0 \
    -object memory-backend-file,id=nv0,share=on,mem-path="$scratch/pmem.img",size=2G,align=2M,pmem=on \
    -device nvdimm,memdev=nv0,id=nvdimm0,node=0 \
    -kernel "$kernel" -initrd "$scratch/initrd.cpio" \
    -append "console=ttyS0 rdinit=/init panic=-1 oops=panic reboot=t printk.devkmsg=on" \
    -serial file:"$scratch/console.log" \
    -device virtio-serial-pci -chardev file,id=agent,path="$scratch/agent.out" \
    -device virtserialport,chardev=agent,name=org.daxrig.agent \
    -device virtio-rng-pci 2>/dev/null
  t1=$(now)
  grep -q '"exited"' "$scratch/agent.out" || { echo "plain qemu run $i: the agent did not report"; exit 1; }
  python3 -c "print(f'  {$t1 - $t0:5.2f} s wall'); open('$scratch/q$i.wall','w').write(str($t1 - $t0))"
  rm -f "$scratch/pmem.img" "$scratch/agent.out"
done

python3 - "$scratch" "$runs" <<'PY'
import statistics, sys
s, n = sys.argv[1], int(sys.argv[2])
d = statistics.median(float(open(f"{s}/d{i}.json.wall").read()) for i in range(1, n + 1))
q = statistics.median(float(open(f"{s}/q{i}.wall").read()) for i in range(1, n + 1))
print(f"median: daxrig boot {d:.2f} s (goal <= 5 s), plain qemu {q:.2f} s, overhead ratio {d / q:.2f}")
PY
