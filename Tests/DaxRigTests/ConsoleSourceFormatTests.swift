import Testing
@testable import DaxRig
@testable import DaxRigImage
@testable import DaxRigMachine
@testable import DaxRigResults
@testable import DaxRigRun

/// Reports the default kernel cannot be made to print (its config lacks the checker, or
/// LKDTM has no trigger for it), written in the exact format the Linux 6.1 source prints;
/// each test quotes the printk format and its file. Addresses and values are made up.
@Suite struct ConsoleScannerSourceFormatTests {
    private func kinds(_ log: String) -> [ConsoleFinding.Kind] { ConsoleScanner.scan(log).map(\.kind) }

    @Test func badPageTableEntriesAreFoundAtEveryLevelAndAreNoCrash() {
        // pmd_ERROR etc., arch/x86/include/asm/pgtable_64.h: "%s:%d: bad pmd %p(%016lx)\n",
        // called by pgd/p4d/pud/pmd_clear_bad in mm/pgtable-generic.c (lines 24, 31, 39, 51).
        let log = """
            [   41.218830] ../src/mm/pgtable-generic.c:51: bad pmd 00000000a8f3e2c1(8000000440a000e7)
            [   41.218901] ../src/mm/pgtable-generic.c:39: bad pud 000000003c1b5d2a(0000000102a4c067)
            [   41.218950] ../src/mm/pgtable-generic.c:31: bad p4d 00000000e1d0c9b8(0000000102a4d067)
            [   41.219002] ../src/mm/pgtable-generic.c:24: bad pgd 0000000071f3a4c5(0000000102a4e067)
            [   41.219040] ../src/mm/memory.c:4321: bad pte 000000001b2c3d4e(8000000440a000e7)
            """
        #expect(kinds(log) == Array(repeating: .badPageTable, count: 5))
        #expect(!ConsoleFinding.Kind.badPageTable.isCrash)
    }

    @Test func badPageMapIsItsOwnReportWithItsPageDump() {
        // print_bad_pte, mm/memory.c: "BUG: Bad page map in process %s  pte:%08llx pmd:%08llx\n",
        // then dump_page(page, "bad pte") (mm/debug.c), then addr/file lines and dump_stack().
        let log = """
            [   52.100001] BUG: Bad page map in process worker  pte:8000000440a00867 pmd:1f2a3067
            [   52.100002] page:00000000d5c4b3a2 refcount:0 mapcount:-1 mapping:0000000000000000 index:0x0 pfn:0x440a00
            [   52.100003] flags: 0x4000000000001000(reserved|zone=2)
            [   52.100004] page dumped because: bad pte
            [   52.100005] addr:00007f3a40000000 vm_flags:080000fb anon_vma:0000000000000000 mapping:ffff88800b1c2d48 index:0
            [   52.100006] file:f fault:xfs_filemap_fault mmap:xfs_file_mmap read_folio:0x0
            [   52.100007] CPU: 1 PID: 88 Comm: worker Tainted: G    B              6.1.192 #6
            [   52.100008] Call Trace:
            [   52.100009]  <TASK>
            [   52.100010]  print_bad_pte.cold+0x6a/0xc5
            [   52.100011]  </TASK>
            [   52.100012] BUG: Bad page map: 3 messages suppressed
            """
        #expect(kinds(log) == [.badPageMap, .badPageMap])
        #expect(!ConsoleFinding.Kind.badPageMap.isCrash)
    }

    @Test func pageDumpsOfVMChecksStartTheirBugOrWarning() {
        // VM_BUG_ON_PAGE, include/linux/mmdebug.h: dump_page(page, "VM_BUG_ON_PAGE(" cond ")"),
        // whose last line is "page dumped because: %s\n" (mm/debug.c), then BUG(): "kernel BUG
        // at %s:%u!\n" (lib/bug.c) and die("invalid opcode").
        let log = """
            [   60.000001] page:00000000d5c4b3a2 refcount:0 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x1f2a3
            [   60.000002] flags: 0x100000000000000(node=0|zone=1)
            [   60.000003] page dumped because: VM_BUG_ON_PAGE(page_ref_count(page) == 0)
            [   60.000004] ------------[ cut here ]------------
            [   60.000005] kernel BUG at ../src/include/linux/mm.h:757!
            [   60.000006] invalid opcode: 0000 [#1] SMP
            [   60.000007] CPU: 0 PID: 88 Comm: worker Not tainted 6.1.192 #6
            [   60.000008] ---[ end trace 0000000000000000 ]---
            [   60.000009] page dumped because: VM_WARN_ON_ONCE_PAGE(PageTail(page))
            [   60.000010] ------------[ cut here ]------------
            [   60.000011] WARNING: CPU: 0 PID: 88 at ../src/mm/rmap.c:1300 page_add_anon_rmap+0x1/0x2
            [   60.000012] ---[ end trace 0000000000000000 ]---
            [   60.000013] page:00000000d5c4b3a2 refcount:1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x1f2a3
            [   60.000014] page dumped because: unmovable page
            """
        let findings = ConsoleScanner.scan(log)
        #expect(findings.map(\.kind) == [.bug, .warning])
        #expect(findings.map(\.line) == [3, 9])
        // mm/page_isolation.c dumps an unmovable page while offlining memory: no bug.
    }

    @Test func listCorruptionIsNoCrashUnlessTheKernelBugsOnIt() {
        // CHECK_DATA_CORRUPTION, include/linux/bug.h: WARN(1, fmt) prints the message, then
        // "WARNING: CPU: ..."; with BUG_ON_DATA_CORRUPTION pr_err(fmt) then BUG(). Formats from
        // lib/list_debug.c: "list_add corruption. prev->next should be next (%px), but was %px.
        // (prev=%px).\n", "list_del corruption, %px->next is LIST_POISON1 (%px)\n".
        let log = """
            [   70.000001] ------------[ cut here ]------------
            [   70.000002] list_add corruption. prev->next should be next (ffff88800b1c2d48), but was ffff88800a9e1c68. (prev=ffff88800b1c2d00).
            [   70.000003] WARNING: CPU: 1 PID: 88 at ../src/lib/list_debug.c:30 __list_add_valid+0x7f/0x90
            [   70.000004] ---[ end trace 0000000000000000 ]---
            [   70.000005] list_del corruption, ffff88800b1c2d48->next is LIST_POISON1 (dead000000000100)
            [   70.000006] ------------[ cut here ]------------
            [   70.000007] kernel BUG at ../src/lib/list_debug.c:56!
            [   70.000008] invalid opcode: 0000 [#2] SMP
            [   70.000009] ---[ end trace 0000000000000000 ]---
            [   70.000010] list_add double add: new=ffff88800b1c2d48, prev=ffff88800b1c2d48, next=ffff88800a9e1c68.
            """
        #expect(kinds(log) == [.listCorruption, .bug, .listCorruption])
    }

    @Test func ubsanReportsAreOneFindingEachAndNoCrash() {
        // ubsan_prologue, lib/ubsan.c: "UBSAN: %s in %s:%d:%d\n" between lines of "=" (80).
        let rule = String(repeating: "=", count: 80)
        let log = """
            [   80.000001] \(rule)
            [   80.000002] UBSAN: shift-out-of-bounds in ../src/mm/huge_memory.c:123:45
            [   80.000003] shift exponent 64 is too large for 64-bit type 'long unsigned int'
            [   80.000004] CPU: 0 PID: 88 Comm: worker Not tainted 6.1.192 #6
            [   80.000005] Call Trace:
            [   80.000006]  <TASK>
            [   80.000007]  ubsan_epilogue+0x5/0x40
            [   80.000008]  </TASK>
            [   80.000009] \(rule)
            [   80.000010] UBSAN: array-index-out-of-bounds in ../src/fs/dax.c:1710:12
            """
        #expect(kinds(log) == [.ubsan, .ubsan])
        #expect(!ConsoleFinding.Kind.ubsan.isCrash)
    }

    @Test func lockdepAndContextChecksAreLockdepFindingsAndNoCrash() {
        // kernel/locking/lockdep.c: pr_warn("WARNING: possible circular locking dependency
        // detected\n"), "WARNING: possible recursive locking detected\n", "WARNING: inconsistent
        // lock state\n", "WARNING: bad unlock balance detected!\n", "WARNING: suspicious RCU
        // usage\n", "WARNING: lock held when returning to user space!\n", "[ BUG: Invalid wait
        // context ]\n", print_lockdep_off("BUG: MAX_LOCKDEP_KEYS too low!"); debug_locks.h:
        // WARN(1, "DEBUG_LOCKS_WARN_ON(%s)", #c). kernel/sched/core.c: "BUG: sleeping function
        // called from invalid context at %s:%d\n", "BUG: scheduling while atomic: %s/%d/0x%08x\n".
        // lib/smp_processor_id.c: "BUG: using %s%s() in preemptible [%08x] code: %s/%d\n".
        // kernel/locking/spinlock_debug.c: "BUG: spinlock %s on CPU#%d, %s/%d\n".
        let log = """
            [   90.000001] ======================================================
            [   90.000002] WARNING: possible circular locking dependency detected
            [   90.000003] 6.1.192 #7 Not tainted
            [   90.000004] ------------------------------------------------------
            [   90.000005] worker/88 is trying to acquire lock:
            [   90.000006] ffff88800b1c2d48 (&mapping->i_mmap_rwsem){++++}-{3:3}, at: dax_iomap_pmd_fault+0x1f0/0x8a0
            [   90.000007] *** DEADLOCK ***
            [   90.000008] WARNING: possible recursive locking detected
            [   90.000009] WARNING: inconsistent lock state
            [   90.000010] WARNING: bad unlock balance detected!
            [   90.000011] WARNING: suspicious RCU usage
            [   90.000012] WARNING: lock held when returning to user space!
            [   90.000013] [ BUG: Invalid wait context ]
            [   90.000014] BUG: MAX_LOCKDEP_KEYS too low!
            [   90.000015] BUG: sleeping function called from invalid context at ../src/mm/memory.c:5642
            [   90.000016] in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 88, name: worker
            [   90.000017] preempt_count: 1, expected: 0
            [   90.000018] BUG: scheduling while atomic: worker/88/0x00000002
            [   90.000019] BUG: using smp_processor_id() in preemptible [00000000] code: worker/88
            [   90.000020] BUG: spinlock already unlocked on CPU#1, worker/88
            [   90.000021] ------------[ cut here ]------------
            [   90.000022] DEBUG_LOCKS_WARN_ON(1)
            [   90.000023] WARNING: CPU: 1 PID: 88 at ../src/kernel/locking/lockdep.c:232 __lock_acquire+0x1/0x2
            [   90.000024] ---[ end trace 0000000000000000 ]---
            """
        #expect(kinds(log) == Array(repeating: .lockdep, count: 13))
        #expect(!ConsoleFinding.Kind.lockdep.isCrash)
    }

    @Test func stallsAndLockupsAreCrashes() {
        // kernel/rcu/tree_stall.h (pr_fmt "rcu: "): "INFO: %s self-detected stall on CPU\n",
        // "INFO: %s detected stalls on CPUs/tasks:\n"; tree_exp.h: "INFO: %s detected expedited
        // stalls on CPUs/tasks: {"; kernel/watchdog_hld.c (pr_fmt "NMI watchdog: "): "Watchdog
        // detected hard LOCKUP on cpu %d\n"; kernel/workqueue.c: "BUG: workqueue lockup - pool".
        let log = """
            [  100.000001] rcu: INFO: rcu_sched self-detected stall on CPU
            [  100.000002] rcu: \t1-....: (21000 ticks this GP) idle=a3c/1/0x4000000000000000 softirq=812/812 fqs=5250
            [  100.000003] \t(t=21001 jiffies g=1433 q=12 ncpus=2)
            [  100.000004] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
            [  100.000005] rcu: INFO: rcu_sched detected expedited stalls on CPUs/tasks: { 1-... } 21003 jiffies s: 101 root: 0x2/.
            [  100.000006] NMI watchdog: Watchdog detected hard LOCKUP on cpu 1
            [  100.000007] BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 35s!
            """
        #expect(kinds(log) == [.rcuStall, .rcuStall, .rcuStall, .hardLockup, .softLockup])
        let stalls: [ConsoleFinding.Kind] = [.rcuStall, .hardLockup, .softLockup, .hungTask]
        #expect(stalls.filter { !$0.isCrash }.isEmpty)
    }

    @Test func memorySafetyReportsAreCrashesAndARaceIsNot() {
        // mm/kfence/report.c: "BUG: KFENCE: use-after-free %s in %pS\n\n"; mm/slub.c slab_bug():
        // "BUG %s (%s): %pV\n" (cache, print_tainted()); mm/page_poison.c: "pagealloc: memory
        // corruption\n"; mm/mempool.c: "BUG: mempool element poison mismatch\n";
        // kernel/kcsan/report.c: "BUG: KCSAN: %s in %ps / %ps\n".
        let log = """
            [  110.000001] ==================================================================
            [  110.000002] BUG: KFENCE: use-after-free read in dax_iomap_pmd_fault+0x2f4/0x8a0
            [  110.000003] 
            [  110.000004] Use-after-free read at 0x00000000c8d9b3a1 (in kfence-#42):
            [  110.000005] BUG kmalloc-64 (Not tainted): Object already free
            [  110.000006] BUG kmalloc-128 (Tainted: G    B             ): Right Redzone overwritten
            [  110.000007] pagealloc: memory corruption
            [  110.000008] BUG: mempool element poison mismatch
            [  110.000009] BUG: KCSAN: data-race in dax_insert_entry / dax_iomap_pmd_fault
            """
        #expect(kinds(log) == [.kfence, .memoryCorruption, .memoryCorruption, .memoryCorruption, .memoryCorruption, .kcsan])
        #expect(ConsoleFinding.Kind.kfence.isCrash && ConsoleFinding.Kind.memoryCorruption.isCrash)
        #expect(!ConsoleFinding.Kind.kcsan.isCrash)
    }

    @Test func generalProtectionFaultsAndCorruptPageTablesAreOopses() {
        // exc_general_protection, arch/x86/kernel/traps.c: GPFSTR ", %s 0x%lx" then die_addr()
        // prints __die_header's "%s: %04lx [#%d]%s%s%s%s%s\n"; arch/x86/mm/fault.c
        // pgtable_bad(): "%s: Corrupted page table at address %lx\n" then __die("Bad pagetable").
        let log = """
            [  120.000001] general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1] SMP NOPTI
            [  120.000002] CPU: 1 PID: 88 Comm: worker Not tainted 6.1.192 #6
            [  120.000003] ---[ end trace 0000000000000000 ]---
            [  120.000004] worker: Corrupted page table at address 7f3a40000000
            [  120.000005] PGD 1f2a3067 P4D 1f2a3067 PUD 1f2a4067 PMD 80000004402000e7
            [  120.000006] Bad pagetable: 000d [#2] SMP NOPTI
            [  120.000007] ---[ end trace 0000000000000000 ]---
            [  120.000008] stack segment: 0000 [#3] SMP NOPTI
            """
        #expect(kinds(log) == [.oops, .oops, .oops])
    }

    @Test func pageTableCheckBugsAreBugs() {
        // mm/page_table_check.c checks with BUG_ON(): lib/bug.c "kernel BUG at %s:%u!\n".
        let log = """
            [  130.000001] ------------[ cut here ]------------
            [  130.000002] kernel BUG at ../src/mm/page_table_check.c:125!
            [  130.000003] invalid opcode: 0000 [#1] SMP
            [  130.000004] ---[ end trace 0000000000000000 ]---
            [  130.000005] Kernel panic - not syncing: Fatal exception
            """
        #expect(kinds(log) == [.bug, .panic])
        #expect(ConsoleScanner.scan(log)[0].excerpt.contains("page_table_check.c"))
    }
}
