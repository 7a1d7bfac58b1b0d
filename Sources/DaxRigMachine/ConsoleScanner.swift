import DaxRigProtocol
import Foundation

/// Reads a guest's serial console for the kernel's own reports of trouble. The
/// console carries kernel messages only (the agent talks on its own channel), so
/// every match is the kernel speaking.
public struct ConsoleFinding: Sendable, Equatable, Codable, CustomStringConvertible {
    /// What the kernel reported. Raw values are stored in the results database: never
    /// rename one. Every kind fails `kernel-log-clean`; a crash kind also makes the boot
    /// a kernel crash (exit 110) and drops the workload's report, so a kind is a crash
    /// only when the kernel cannot be trusted to have run the test after it.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// `panic()`: the kernel stopped. Crash.
        case panic
        /// `die()`: an oops, general protection fault or other trap in kernel mode. The
        /// task died inside the kernel, maybe holding locks; with `oops=panic` the kernel
        /// stops. Crash.
        case oops
        /// `BUG()`/`BUG_ON()` ("kernel BUG at", VM_BUG_ON, page_table_check) and any other
        /// "BUG:" line this list does not name: the kernel chose to die, or said it
        /// cannot go on. Crash.
        case bug
        /// A KASAN report: a bad access has already been made. Memory the test relies on
        /// may be corrupt. Crash.
        case kasan
        /// The soft-lockup or workqueue watchdog: a CPU or a pool stopped scheduling for
        /// tens of seconds, so the kernel was not running the test. Crash.
        case softLockup = "soft-lockup"
        /// A task stuck in D state past the hung-task timeout: a deadlock. Crash.
        case hungTask = "hung-task"
        /// "BUG: Bad page state"/"Bad page cache": `bad_page()` took the page out of
        /// use (it is leaked, never handed out) and the kernel goes on. Not a crash: the
        /// workload's report still counts.
        case badPageState = "bad-page-state"
        /// `check_mm()` at mm teardown: page-table bytes left over. The process has
        /// exited and its report is written; the accounting error is the finding. Not a crash.
        case pgtablesBytes = "pgtables-bytes"
        /// `check_mm()` at mm teardown: RSS counters off. As for pgtables-bytes. Not a crash.
        case rssCounter = "rss-counter"
        /// `WARN()`: the kernel noted something wrong and went on. Not a crash.
        case warning
        /// `p?d_clear_bad()`: a bad page-table entry, reported and cleared before use; the
        /// kernel continues. Not a crash: the report is about the tables under test.
        case badPageTable = "bad-page-table"
        /// `print_bad_pte()`: a pte for a page whose state is wrong, found while zapping or
        /// faulting; the kernel skips it and goes on. Not a crash.
        case badPageMap = "bad-page-map"
        /// UBSAN: undefined arithmetic (overflow, shift, bad enum/bool value) whose result
        /// the kernel then used; it goes on and the test's own checks still judge the
        /// result. Not a crash.
        case ubsan
        /// DEBUG_LIST found a corrupt list and refused the add or delete, so the corruption
        /// spreads no further. Not a crash (with BUG_ON_DATA_CORRUPTION the same report ends
        /// in "kernel BUG at" and is found as a bug).
        case listCorruption = "list-corruption"
        /// refcount_t over- or underflow: the counter saturates, the object is leaked rather
        /// than freed twice. Not a crash.
        case refcount
        /// Lock and context checking: lockdep splats, suspicious RCU usage, sleeping or
        /// scheduling in atomic context, spinlock debug. A report of what could deadlock;
        /// the kernel goes on (lockdep switches itself off). Not a crash.
        case lockdep
        /// An RCU stall: a CPU or task held up grace periods for the stall timeout. Like a
        /// soft lockup. Crash.
        case rcuStall = "rcu-stall"
        /// The NMI watchdog: a CPU stuck with interrupts off. Crash.
        case hardLockup = "hard-lockup"
        /// A KFENCE report: as for KASAN, the bad access has happened. Crash.
        case kfence
        /// SLUB debugging, page poisoning or mempool poison: memory was written after free
        /// or out of bounds, found after the fact. As for KASAN. Crash.
        case memoryCorruption = "memory-corruption"
        /// A KCSAN data race: two accesses observed racing; the kernel goes on and the
        /// test's checks say whether data suffered. Not a crash.
        case kcsan
        /// The OOM killer killed a process. The kernel itself is sound; which process died
        /// and whether the test survived is for the test's report. Not a crash.
        case oom
        /// Not the kernel speaking: the console printed more than virtlogd keeps, and its
        /// beginning rolled away unread (ConsoleLog). A report may have been in it, so the
        /// log cannot count as clean. Not a crash.
        case consoleLost = "console-lost"

        public var isCrash: Bool {
            switch self {
            case .panic, .oops, .bug, .kasan, .kfence, .memoryCorruption,
                 .softLockup, .hungTask, .rcuStall, .hardLockup: true
            case .warning, .badPageState, .pgtablesBytes, .rssCounter, .badPageTable, .badPageMap,
                 .ubsan, .listCorruption, .refcount, .lockdep, .kcsan, .oom, .consoleLost: false
            }
        }
    }

    public var kind: Kind
    /// 1-based line of the console log where it starts.
    public var line: Int
    /// The matching line and what followed it (the trace), trimmed.
    public var excerpt: String

    public var description: String { "\(kind.rawValue) at console line \(line):\n\(excerpt)" }
}

public enum ConsoleScanner {
    struct Pattern: Sendable {
        enum Match: Sendable { case text(String), dieHeader, slabReport }
        var match: Match
        var kind: ConsoleFinding.Kind
        /// A WARN or an oops: the report runs to its "---[ end trace" line, and what is in
        /// between (the "WARNING: CPU:" or "Oops:" line of a message-first report) is part of it.
        var traced: Bool

        /// A text every line this pattern matches holds: what ConsoleLines looks for.
        var needle: String {
            switch match {
            case let .text(text): text
            case .dieHeader: " [#"
            case .slabReport: "BUG "
            }
        }

        func matches(_ line: Substring) -> Bool {
            switch match {
            case let .text(text): ConsoleLines.holds(line, text)
            case .dieHeader: ConsoleScanner.isDieHeader(line)
            case .slabReport: ConsoleScanner.isSlabReport(line)
            }
        }
    }

    static func p(_ kind: ConsoleFinding.Kind, traced: Bool = false, _ texts: String...) -> [Pattern] {
        texts.map { Pattern(match: .text($0), kind: kind, traced: traced) }
    }

    /// Patterns in priority order: the first that matches a line names its kind, so
    /// "BUG: non-zero pgtables_bytes" is an accounting finding, not a generic BUG.
    ///
    /// The markers are the report headers of the Linux 6.1 source (Debian's
    /// linux-source-6.1: kernel/panic.c, lib/bug.c, arch/x86/kernel/{dumpstack,traps}.c,
    /// arch/x86/mm/fault.c, mm/{pgtable-generic,memory,page_alloc,filemap,debug,oom_kill,
    /// page_poison,slub,mempool}.c, kernel/fork.c, lib/{list_debug,refcount,ubsan}.c,
    /// kernel/locking/{lockdep,spinlock_debug}.c, kernel/sched/core.c, lib/smp_processor_id.c,
    /// kernel/workqueue.c, kernel/rcu/{tree_stall,tree_exp,tasks}.h, kernel/watchdog{,_hld}.c,
    /// kernel/hung_task.c, mm/{kasan,kfence}/report.c, kernel/kcsan/report.c), checked
    /// against the report titles of syzkaller's pkg/report/linux.go. Userspace faults
    /// ("segfault at", "traps: ... general protection fault ip:") are not kernel bugs.
    static let patterns: [Pattern] = [
        p(.panic, traced: true, "Kernel panic - not syncing"),
        p(.pgtablesBytes, "BUG: non-zero pgtables_bytes"),
        p(.rssCounter, "BUG: Bad rss-counter"),
        p(.badPageState, "BUG: Bad page state", "Bad page state", "BUG: Bad page cache"),
        p(.badPageMap, "BUG: Bad page map"),
        // "%s:%d: bad pmd %p(%016lx)" (pmd_ERROR, arch/x86/include/asm/pgtable_64.h).
        p(.badPageTable, ": bad pte ", ": bad pmd ", ": bad pud ", ": bad p4d ", ": bad pgd "),
        p(.kasan, "BUG: KASAN"),
        p(.kfence, "BUG: KFENCE:"),
        p(.kcsan, "BUG: KCSAN:"),
        p(.memoryCorruption, "pagealloc: memory corruption", "pagealloc: single bit error",
          "BUG: mempool element poison mismatch"),
        [Pattern(match: .slabReport, kind: .memoryCorruption, traced: false)],
        p(.softLockup, "BUG: soft lockup", "watchdog: BUG: soft lockup", "BUG: workqueue lockup"),
        p(.hardLockup, "Watchdog detected hard LOCKUP"),
        p(.hungTask, "blocked for more than"),
        p(.rcuStall, "self-detected stall on CPU", "detected stalls on ", "detected expedited stalls on "),
        KernelMessages.oomKills.flatMap { p(.oom, $0) },
        p(.listCorruption, traced: true, "list_add corruption", "list_del corruption", "list_add double add"),
        p(.refcount, traced: true, "refcount_t: "),
        p(.lockdep, traced: true, "DEBUG_LOCKS_WARN_ON("),
        p(.lockdep, "possible circular locking dependency detected", "possible recursive locking detected",
          "inconsistent lock state", "possible irq lock inversion dependency detected",
          "-unsafe lock order detected", "WARNING: chain_key collision", "WARNING: Nested lock was not taken",
          "bad unlock balance detected!", "bad contention detected!", "held lock freed!",
          "still has locks held!", "lock held when returning to user space!", "suspicious RCU usage",
          "BUG: Invalid wait context", "INFO: trying to register non-static key", "BUG: MAX_",
          "BUG: key ", "BUG: looking up invalid subclass", "BUG: spinlock ", "BUG: rwlock ",
          "BUG: sleeping function called from invalid context", "BUG: scheduling while atomic",
          "BUG: scheduling in a non-blocking section", "BUG: assuming atomic context",
          "BUG: assuming non migratable context", "() in preemptible [", "BUG: workqueue leaked lock"),
        p(.ubsan, "UBSAN: "),
        // dump_page() then BUG()/WARN(): the page dump comes first.
        p(.bug, traced: true, "page dumped because: VM_BUG_ON"),
        p(.warning, traced: true, "page dumped because: VM_WARN_ON"),
        p(.oops, traced: true, "Corrupted page table at address", "PANIC: double fault", "Oops:"),
        [Pattern(match: .dieHeader, kind: .oops, traced: true)],
        p(.bug, traced: true, "BUG: unable to handle", "BUG: kernel NULL pointer dereference", "BUG:",
          "kernel BUG at", "Kernel BUG at"),
        p(.warning, traced: true, "WARNING:"),
    ].flatMap { $0 }

    /// The patterns' needles, less each that holds another (a line with "BUG: KASAN" holds
    /// "BUG:"): the fewer passes over the log, the same lines marked.
    static let needles: [String] = {
        let all = Set(patterns.map(\.needle))
        return all.filter { text in !all.contains { $0 != text && ConsoleLines.holds(Substring(text), $0) } }.sorted()
    }()

    /// An x86 `die()` header, "<what>: <4 hex digits> [#<n>]" (`__die_header`): "Oops: 0002
    /// [#1] SMP", "general protection fault, probably for non-canonical address 0x...: 0000
    /// [#1]", "invalid opcode: 0000 [#1]", "stack segment: ...", "Bad pagetable: ...".
    public static func isDieHeader(_ line: Substring) -> Bool {
        guard let open = line.range(of: " [#") else { return false }
        let before = line[..<open.lowerBound].suffix(6)
        let after = line[open.upperBound...]
        let digits = after.prefix { $0.isNumber }
        return before.count == 6 && before.hasPrefix(": ") && before.dropFirst(2).allSatisfy(\.isHexDigit)
            && !digits.isEmpty && after.dropFirst(digits.count).hasPrefix("]")
    }

    /// SLUB's `slab_bug()`: "BUG <cache> (Not tainted): <what>" or "BUG <cache> (Tainted: G B): ...".
    static func isSlabReport(_ line: Substring) -> Bool {
        guard let bug = line.range(of: "BUG ") else { return false }
        let rest = line[bug.upperBound...]
        let cache = rest.prefix { !$0.isWhitespace }
        let tail = rest.dropFirst(cache.count)
        return !cache.isEmpty && (tail.hasPrefix(" (Not tainted): ") || tail.hasPrefix(" (Tainted: "))
    }

    /// Where a traced report ends: its "---[ end" line, or the line before a panic it
    /// caused (panic_on_warn panics inside the WARN, before the end marker), which is a
    /// finding of its own.
    static func traceEnd(_ lines: [Substring], from start: Int) -> Int? {
        for index in start + 1..<min(lines.count, start + 100) {
            if ConsoleLines.holds(lines[index], "---[ end ") { return index }
            if ConsoleLines.holds(lines[index], "Kernel panic - not syncing") { return index - 1 }
        }
        return nil
    }

    /// Every finding in `log`, each with up to `context` following lines as its excerpt,
    /// or to the end of its call trace.
    public static func scan(_ log: String, context: Int = 12) -> [ConsoleFinding] {
        // Serial output ends lines with "\r\n", which Swift reads as one Character.
        let console = ConsoleLines(log)
        let lines = console.lines
        let candidates = console.holding(any: needles)
        var findings: [ConsoleFinding] = []
        var index = 0
        while index < lines.count {
            guard candidates[index], let pattern = patterns.first(where: { $0.matches(lines[index]) }) else {
                index += 1
                continue
            }
            // A WARN or an oops is one finding, to its end marker when that is near, named by
            // its most specific line: a BUG whose block says "Oops:" is an oops, and a report
            // that is no crash by itself but ends in a BUG() or an oops is that crash.
            var kind = pattern.kind
            var next = index + 1
            if pattern.traced, let end = traceEnd(lines, from: index) {
                let block = lines[index...end]
                let oops = block.contains { ConsoleLines.holds($0, "Oops:") }
                if kind == .bug, oops { kind = .oops }
                if !kind.isCrash, block.dropFirst().contains(where: { ConsoleLines.holds($0, "kernel BUG at") || isDieHeader($0) }) {
                    kind = oops ? .oops : .bug
                }
                next = end + 1
            }
            let excerpt = lines[index..<excerptEnd(lines, from: index, context: context)].joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            findings.append(ConsoleFinding(kind: kind, line: index + 1, excerpt: excerpt))
            index = next
        }
        return findings
    }
}
