import Testing
@testable import DaxRig
@testable import DaxRigMachine

/// On console logs captured from daxrig boots of the default kernel (6.1.192,
/// tinyconfig + pmem-dax.config), each provoked through LKDTM or a memory hog, e.g.
///   daxrig boot --fs none --append printk.devkmsg=on --keep -- sh -c \
///     'mount -t debugfs none /sys/kernel/debug; echo BUG > /sys/kernel/debug/provoke-crash/DIRECT'
/// trimmed to start at "Run /init as init process".
@Suite struct ConsoleScannerCapturedTests {
    private func scan(_ name: String) throws -> [ConsoleFinding] { ConsoleScanner.scan(try Fixtures.text(name)) }

    @Test func refcountOverflowIsOneRefcountFindingWithItsWarningAndNoCrash() throws {
        // REFCOUNT_INC_OVERFLOW: "refcount_t: saturated; leaking memory." then its WARNING.
        let findings = try scan("console-refcount.log")
        #expect(findings.map(\.kind) == [.refcount])
        #expect(findings.first?.line == 7)
        #expect(findings.first?.excerpt.contains("WARNING: CPU: 1 PID: 37 at lib/refcount.c:22") == true)
        #expect(findings.first?.kind.isCrash == false)
    }

    @Test func bugIsOneBugWithItsInvalidOpcodeThenThePanic() throws {
        // BUG: "kernel BUG at drivers/misc/lkdtm/bugs.c:78!", then die("invalid opcode").
        let findings = try scan("console-bug.log")
        #expect(findings.map(\.kind) == [.bug, .panic])
        #expect(findings.map(\.line) == [4, 40])
        #expect(findings.first?.excerpt.contains("invalid opcode: 0000 [#1] SMP") == true)
    }

    @Test func writeToReadOnlyDataIsAnOopsThenThePanic() throws {
        // WRITE_RO: "BUG: unable to handle page fault for address: ..." then "Oops: 0003 [#1] SMP".
        let findings = try scan("console-page-fault.log")
        #expect(findings.map(\.kind) == [.oops, .panic])
        #expect(findings.first?.excerpt.hasPrefix("[   10.668688] BUG: unable to handle page fault for address: ffffffff8184b7c0") == true)
    }

    @Test func stackGuardPageIsABugWhoseDieHeaderIsPartOfIt() throws {
        // STACK_GUARD_PAGE_LEADING: "BUG: TASK stack guard page was hit at ..." then
        // die("stack guard page"): "stack guard page: 0000 [#1] SMP", not "Oops:".
        let log = try Fixtures.text("console-stack-guard.log")
        let header = try #require(log.split(whereSeparator: \.isNewline).first { $0.contains("stack guard page: 0000") })
        #expect(ConsoleScanner.isDieHeader(header))
        #expect(ConsoleScanner.scan(log).map(\.kind) == [.bug, .panic])
        #expect(ConsoleScanner.scan(log).map(\.line) == [6, 42])
    }

    @Test func panicOnWarnIsAWarningAndThePanicInsideIt() throws {
        // panic_on_warn=1 then WARNING: the WARN panics before its "---[ end trace" line.
        let findings = try scan("console-panic-on-warn.log")
        #expect(findings.map(\.kind) == [.warning, .panic])
        #expect(findings.map(\.line) == [4, 27])
        #expect(findings.last?.excerpt.hasPrefix("[   16.676244] Kernel panic - not syncing: kernel: panic_on_warn set") == true)
    }

    @Test func oomKillIsOneFindingAndNoCrashAndUndetectedListCorruptionIsNone() throws {
        // CORRUPT_LIST_ADD/DEL on a kernel without DEBUG_LIST ("list_add() corruption not
        // detected!"), then two 300 MiB dd buffers in 512 MiB: "Out of memory: Killed process".
        // The task dump's "pgtables_bytes" column is no accounting bug.
        let log = try Fixtures.text("console-oom.log")
        #expect(log.contains("list_add() corruption not detected!") && log.contains("rss pgtables_bytes swapents"))
        let findings = ConsoleScanner.scan(log)
        #expect(findings.map(\.kind) == [.oom])
        #expect(findings.first?.line == 64)
        #expect(findings.first?.kind.isCrash == false)
    }
}
