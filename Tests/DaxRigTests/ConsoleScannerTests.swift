import Foundation
import Testing
import DaxRigMachine
@testable import DaxRig
@testable import DaxRigMachine
@testable import DaxRigSupport
@testable import DaxRigRun

/// On console logs captured from daxrig boots of the default kernel.
@Suite struct ConsoleScannerTests {
    @Test func cleanBootHasNoFindings() throws {
        let log = try Fixtures.text("console-clean.log")
        #expect(log.contains("Run /init as init process"))
        #expect(ConsoleScanner.scan(log).isEmpty)
    }

    @Test func sysrqCrashIsAPanicWithItsMessage() throws {
        let findings = ConsoleScanner.scan(try Fixtures.text("console-panic.log"))
        #expect(findings.map(\.kind) == [.panic])
        #expect(findings[0].excerpt.hasSuffix("Kernel panic - not syncing: sysrq triggered crash\n[    2.575160] Kernel Offset: disabled") || findings[0].excerpt.contains("sysrq triggered crash"))
        #expect(findings[0].kind.isCrash)
    }

    @Test func nullDereferenceIsOneOopsThenThePanicItCauses() throws {
        let findings = ConsoleScanner.scan(try Fixtures.text("console-oops.log"))
        #expect(findings.map(\.kind) == [.oops, .panic])
        #expect(findings[0].excerpt.hasPrefix("[    2.477100] BUG: kernel NULL pointer dereference"))
        #expect(findings[0].line == 219)
        #expect(findings[1].excerpt.hasPrefix("[    2.482118] Kernel panic - not syncing: Fatal exception"))
    }

    @Test func warningIsFoundAndIsNotACrash() throws {
        let findings = ConsoleScanner.scan(try Fixtures.text("console-warn.log"))
        #expect(findings.map(\.kind) == [.warning])
        #expect(findings[0].excerpt.contains("lkdtm"))
        #expect(!findings[0].kind.isCrash)
    }

    @Test func accountingBugsGetTheirOwnKinds() {
        let log = """
            [   12.1] BUG: non-zero pgtables_bytes on freeing mm: 4096
            [   12.2] BUG: Bad rss-counter state mm:000000001d6a5e3b type:MM_FILEPAGES val:512
            [   12.3] BUG: Bad page state in process worker  pfn:1a2b3
            [   12.4] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [worker:123]
            [   12.5] INFO: task worker:77 blocked for more than 120 seconds.
            [   12.6] BUG: KASAN: use-after-free in dax_iomap_pmd_fault+0x1/0x2
            """
        #expect(ConsoleScanner.scan(log).map(\.kind) == [.pgtablesBytes, .rssCounter, .badPageState, .softLockup, .hungTask, .kasan])
        // Accounting at mm teardown and a page taken out of use leave the workload's report
        // standing; a lockup or a bad access does not.
        #expect(ConsoleScanner.scan(log).map(\.kind.isCrash) == [false, false, false, true, true, true])
    }

    /// Lines a healthy 6.1 kernel prints that mention what the markers look for. Formats:
    /// lockdep_init (kernel/locking/lockdep.c), kasan_init (arch/x86/mm/kasan_init_64.c),
    /// kfence_init (mm/kfence/core.c), LKDTM (drivers/misc/lkdtm/), show_signal_msg
    /// (arch/x86/mm/fault.c) and show_signal (arch/x86/kernel/traps.c) for userspace faults,
    /// do_migrate_range (mm/memory_hotplug.c); call-trace frames of the reporting functions.
    @Test func innocentLinesOfBootsAndOfUserspaceFaultsAreNoFindings() {
        let log = """
            [    0.000000] Kernel command line: console=ttyS0 rdinit=/init panic=-1 oops=panic reboot=t printk.devkmsg=on
            [    0.000000] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar
            [    0.000000] ... MAX_LOCKDEP_KEYS:        8192
            [    0.010000] rcu: \tRCU lockdep checking is enabled.
            [    0.020000] kasan: KernelAddressSanitizer initialized
            [    0.030000] kfence: initialized - using 2097152 bytes for 255 objects at 0x(____ptrval____)-0x(____ptrval____)
            [    2.000000] lkdtm: list_add() corruption not detected!
            [    2.100000] lkdtm: attempting bad refcount_inc() overflow
            [    2.200000] sh[52]: segfault at 0 ip 0000000000401136 sp 00007ffd5e1c8a40 error 6 in busybox[401000+9a000] likely on CPU 0 (core 0, socket 0)
            [    2.300000] traps: sh[53] general protection fault ip:4011b6 sp:7ffc9bd8e2a0 error:0 in busybox[401000+9a000]
            [    2.400000] traps: sh[54] trap invalid opcode ip:4011b6 sp:7ffc9bd8e2a0 error:0 in busybox[401000+9a000]
            [    2.500000] page dumped because: isolation failed
            [    2.600000] Call Trace:
            [    2.600001]  asm_exc_general_protection+0x22/0x30
            [    2.600002]  refcount_warn_saturate+0x9c/0xe0
            [    2.600003]  __list_add_valid+0x7f/0x90
            [    2.600004]  ubsan_epilogue+0x5/0x40
            [    2.600005]  pmd_clear_bad+0x12/0x20
            [    2.600006]  oops_end+0x86/0xb0
            """
        #expect(ConsoleScanner.scan(log).isEmpty)
    }

    @Test func carriageReturnsFromTheSerialLineAreDropped() {
        let findings = ConsoleScanner.scan("ok\r\n[ 1.0] Kernel panic - not syncing: x\r\n[ 1.1] end\r\n")
        #expect(findings.first?.excerpt == "[ 1.0] Kernel panic - not syncing: x\n[ 1.1] end")
        #expect(findings.first?.line == 2)
    }
}

@Suite struct BootOutcomeTests {
    @Test func everyOutcomeHasItsOwnExitStatus() {
        let finding = ConsoleFinding(kind: .panic, line: 1, excerpt: "x")
        let outcomes: [BootOutcome] = [
            .commandExited(status: 0, signal: nil), .commandExited(status: 3, signal: nil), .kernelCrash(finding),
            .bootFailure(reason: "r", excerpt: ""), .agentFailure(stage: "pmem", message: "m"),
            .timeout(seconds: 5, lastPhase: "command"), .infrastructure("libvirt"),
        ]
        #expect(Set(outcomes.map(\.exitStatus)).count == outcomes.count)
        #expect(Set(outcomes.map(\.name)).count == outcomes.count)
    }

    @Test func sizesParseInBinaryUnitsAndRejectGarbage() throws {
        #expect(try ByteSize.parse("2G") == 2 << 30)
        #expect(try ByteSize.parse("512MiB") == 512 << 20)
        #expect(try ByteSize.parse("4096") == 4096)
        #expect(try ByteSize.parse("1t") == 1 << 40)
        #expect(throws: ByteSizeError(text: "2X")) { try ByteSize.parse("2X") }
        #expect(throws: ByteSizeError.self) { try ByteSize.parse("G") }
        #expect(throws: ByteSizeError.self) { try ByteSize.parse("99999999999T") }
        #expect(ByteSize.format(2 << 30) == "2 GiB")
        #expect(ByteSize.format(1536 << 20) == "1.5 GiB")
    }
}

/// The console of CI's verify boot that hung (2026-12-06): vCPU 1 stopped taking timer
/// interrupts at 2.17 s with PID 1 in the kernel's jitter-entropy loop, and RCU said so at 22 s.
@Suite struct StallReportTests {
    @Test func theStallIsACrashAndItsExcerptRunsThroughItsCallTrace() throws {
        let findings = ConsoleScanner.scan(try Fixtures.text("console-rcu-stall-tcg.log"))
        let stall = try #require(findings.first)
        #expect(stall.kind == .rcuStall && stall.kind.isCrash)
        #expect(stall.excerpt.hasPrefix("[   22.212981] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:"))
        // The register dump alone (the first 12 lines after it) said nothing of where CPU 1 was.
        #expect(stall.excerpt.contains("try_to_generate_entropy+0xd2/0xe8"))
        #expect(stall.excerpt.hasSuffix("</TASK>"))
    }

    @Test func anExcerptWithoutATraceStaysAtItsContextAndATraceWithoutAnEndToo() {
        let plain = (0..<40).map { Substring("line \($0)") }
        #expect(ConsoleScanner.excerptEnd(plain, from: 0, context: 12) == 13)
        var unended = plain
        unended[5] = "Call Trace:"
        #expect(ConsoleScanner.excerptEnd(unended, from: 0, context: 12) == 13)
        var late = plain
        late[26] = "Call Trace:"
        late[28] = " </TASK>"
        #expect(ConsoleScanner.excerptEnd(late, from: 0, context: 12) == 13, "a trace past traceWithin is another report's")
        late[20] = "Call Trace:"
        #expect(ConsoleScanner.excerptEnd(late, from: 0, context: 12) == 29)
        var ended = unended
        ended[30] = " </TASK>"
        #expect(ConsoleScanner.excerptEnd(ended, from: 0, context: 12) == 31)
        // A trace longer than the limit is cut at the context, not at the limit.
        #expect(ConsoleScanner.excerptEnd(ended, from: 0, context: 12, limit: 20) == 13)
        // A limit no larger than the context (a caller's choice) is the context.
        #expect(ConsoleScanner.excerptEnd(ended, from: 0, context: 12, limit: 6) == 13)
        // Near the log's end.
        #expect(ConsoleScanner.excerptEnd(Array(plain.prefix(3)), from: 1, context: 12) == 3)
    }

    /// The boot ends once a stall's report is complete and the agent has been silent
    /// since: not while the console still grows (up to the settle limit), not while the
    /// agent still talks, and never for a report the guest goes on after.
    @Test func theWatchEndsAStallOnceItsReportSettledAndTheAgentFellSilent() throws {
        let dir = try Files.temporaryDirectory(in: FileManager.default.temporaryDirectory, prefix: "watch-")
        defer { Files.remove(dir.path) }
        let path = dir.appendingPathComponent("console.log").path
        let log = try Fixtures.text("console-rcu-stall-tcg.log")
        let stallAt = try #require(log.range(of: "[   22.212981] rcu: INFO"))
        let before = String(log[..<stallAt.lowerBound])
        try Files.write(Data(before.utf8), to: path)
        var watch = ConsoleWatch(path: path)
        let start = Date()
        #expect(watch.decided(now: start) == nil)
        // A warning and a KASAN report are findings, but the guest goes on after them.
        try Files.write(Data((before + "[   3.0] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2\n"
            + "[   3.1] BUG: KASAN: use-after-free in f+0x1/0x2\n").utf8), to: path)
        #expect(watch.decided(now: start.addingTimeInterval(5), lastMessage: start) == nil)
        #expect(watch.decided(now: start.addingTimeInterval(200), lastMessage: start) == nil)
        try Files.write(Data(log.utf8), to: path)
        let seen = start.addingTimeInterval(210)
        #expect(watch.decided(now: seen, lastMessage: start) == nil, "seen, not settled")
        #expect(watch.decided(now: seen.addingTimeInterval(10), lastMessage: start) == nil, "settled, the agent not silent long enough")
        // The agent spoke after the stall: the guest went on, silence counts from there.
        #expect(watch.decided(now: seen.addingTimeInterval(61), lastMessage: seen.addingTimeInterval(30)) == nil)
        #expect(watch.decided(now: seen.addingTimeInterval(91), lastMessage: seen.addingTimeInterval(30))?.kind == .rcuStall)

        // A panic: the guest has stopped, no silence needed; still settles first, at most
        // for the settle limit while the console keeps growing.
        let panic = before + "[   5.0] Kernel panic - not syncing: sysrq triggered crash\n"
        try Files.write(Data(panic.utf8), to: path)
        var halted = ConsoleWatch(path: path)
        #expect(halted.decided(now: start, lastMessage: start) == nil)
        for second in 1...29 {
            try Files.write(Data((panic + String(repeating: "more\n", count: second)).utf8), to: path)
            #expect(halted.decided(now: start.addingTimeInterval(Double(second)), lastMessage: start.addingTimeInterval(Double(second))) == nil)
        }
        #expect(halted.decided(now: start.addingTimeInterval(30), lastMessage: start.addingTimeInterval(30))?.kind == .panic, "the settle limit")
        #expect(ConsoleWatch.stop(.kasan) == nil && ConsoleWatch.stop(.oops) == nil && ConsoleWatch.stop(.hungTask) == .stuck)
    }
}
