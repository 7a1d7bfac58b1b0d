import DaxRigProtocol
import Foundation
import DaxRigMachine

/// What a kernel is expected to do with a workload or stress run; each is one subtest.
public enum Expectation: String, Sendable, Codable, CaseIterable {
    /// PMD tables shared: measured PMD pages <= ceil(S / 1 GiB) + tolerance.
    case shares
    /// Not shared: about N x ceil(S / 1 GiB) PMD pages.
    case `private`
    /// No 2 MiB region fell back to PTEs.
    case noFallback = "no-fallback"
    /// Page tables all freed once every worker exited.
    case noLeak = "no-leak"
    /// Every pattern word read back as written; every worker mapped and exited 0.
    case dataIntact = "data-intact"
    /// The kernel reported nothing (no Oops, BUG, WARNING, accounting bug).
    case kernelLogClean = "kernel-log-clean"
}

/// One expectation judged on one workload, with the numbers behind the verdict.
public struct Verdict: Sendable, Codable, Equatable {
    public var expectation: Expectation
    public var passed: Bool
    public var detail: String
}

public enum Judge {
    /// PMD pages above ceil(S / 1 GiB) still counted as shared: a worker's own stray
    /// table, counter noise.
    public static let sharingTolerance: Int64 = 2
    /// Page-table bytes the parent itself may gain between the first and last snapshot.
    public static let leakTolerance: Int64 = 4 * 4096

    public static func judge(_ expectation: Expectation, report: WorkloadReport, findings: [ConsoleFinding]) -> Verdict {
        let a = report.accounting
        let measured = a.measuredPMDPages
        let fallbacks = a.fallbackPages.reduce(0, +)
        switch expectation {
        case .shares:
            // At small N the tolerance would reach the unshared count itself (3 processes,
            // 3 pages): sharing must also mean fewer pages than one per process.
            let bound = Int64(a.pudRanges) + sharingTolerance
            let fewer = a.processes == 1 || measured < Int64(a.expectedUnsharedPMDPages)
            let uncounted = Uncounted(report)
            return Verdict(expectation: expectation, passed: measured <= bound && fewer && uncounted.countable,
                           detail: "\(measured) PMD table pages measured for \(a.processes) processes; shared means <= \(bound) (unshared would be \(a.expectedUnsharedPMDPages))"
                            + uncounted.note)
        case .private:
            let expected = Int64(a.expectedUnsharedPMDPages)
            let low = expected - max(2, expected / 10)
            // ... and private must mean more pages than one shared set.
            let more = a.processes == 1 || measured > Int64(a.pudRanges)
            let uncounted = Uncounted(report)
            return Verdict(expectation: expectation, passed: measured >= low && measured <= expected + sharingTolerance && more && uncounted.countable,
                           detail: "\(measured) PMD table pages measured; private means about \(expected) (\(a.processes) x \(a.pudRanges))"
                            + uncounted.note)
        case .noFallback:
            // Two witnesses where the kernel has tracing: the VmPTE growth and the
            // tracepoint's FALLBACK results. Either one seeing a fallback fails it.
            let traced = report.pmdFaults
            return Verdict(expectation: expectation, passed: fallbacks == 0 && (traced?.fallback ?? 0) == 0,
                           detail: "\(fallbacks) PTE fallback pages (2 MiB regions mapped with PTEs) over all workers"
                            + (traced.map { "; dax_pmd_fault_done: \($0.noPage) NOPAGE, \($0.fallback) FALLBACK" } ?? ""))
        case .noLeak:
            return Verdict(expectation: expectation, passed: abs(a.leakBytes) <= leakTolerance,
                           detail: "PageTables after all workers exited minus before forking: \(a.leakBytes) bytes")
        case .dataIntact:
            let mismatches = report.workers.reduce(UInt64(0)) { $0 + $1.mismatches }
            let errnos = Set(report.workers.map(\.mapErrno).filter { $0 != 0 }).sorted()
            let failedMaps = report.workers.filter { $0.mapErrno != 0 }.count
            let failedExits = report.workers.filter { $0.exitStatus != 0 }.count
            let writableReadOnly = report.workers.indices.filter { report.workers[$0].readOnlyStoreTaken == true }
            return Verdict(expectation: expectation, passed: mismatches == 0 && failedMaps == 0 && failedExits == 0 && writableReadOnly.isEmpty,
                           detail: "\(mismatches) pattern words wrong, \(failedMaps) failed mmaps"
                            + (errnos.isEmpty ? "" : " (" + errnos.map { "errno \($0) \(String(cString: strerror($0)))" }.joined(separator: ", ") + ")")
                            + ", \(failedExits) workers exited non-zero"
                            // The first killed worker before the first that exited 1: a dead
                            // writer's stripe is what makes the others' checks fail.
                            + ((report.workers.firstIndex { $0.exitStatus > 128 } ?? report.workers.firstIndex { $0.exitStatus != 0 }).map { index in
                                " (first: worker \(index) \(report.workers[index].ending))"
                            } ?? "")
                            + (writableReadOnly.isEmpty ? "" : "; a store to the read-only mapping of worker "
                                + writableReadOnly.prefix(8).map(String.init).joined(separator: ", ") + " went through instead of raising SIGSEGV")
                            + (report.workers.firstIndex { $0.firstMismatch != nil }.map { index in
                                "; first: worker \(index) (file offset \(report.spec.geometry.fileOffset(of: index))), \(report.workers[index].firstMismatch!)"
                            } ?? ""))
        case .kernelLogClean:
            return Verdict(expectation: expectation, passed: findings.isEmpty,
                           detail: findings.isEmpty ? "no kernel reports while it ran" : summary(of: findings))
        }
    }

    /// Kernel reports by kind, with how many and the first of each: a kernel that
    /// printed a thousand `bad pmd` lines gets one line of verdict, not a thousand.
    static func summary(of findings: [ConsoleFinding]) -> String {
        var kinds: [ConsoleFinding.Kind] = []
        for finding in findings where !kinds.contains(finding.kind) { kinds.append(finding.kind) }
        return kinds.map { kind in
            let all = findings.filter { $0.kind == kind }
            let first = all[0]
            let text = first.excerpt.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            return "\(all.count) \(kind.rawValue) (first at console line \(first.line): \(text.prefix(160)))"
        }.joined(separator: "; ")
    }

    /// A stress run: `data-intact` means every process mapped the file, read no word
    /// wrong, had no call fail and exited 0 (a SIGBUS or SIGSEGV shows as a signal).
    /// The other expectations are its mapping phase's, judged as a workload's.
    public static func judge(_ expectation: Expectation, stress: StressReport, findings: [ConsoleFinding]) -> Verdict {
        guard expectation == .dataIntact else { return judge(expectation, report: stress.mapping, findings: findings) }
        let workers = stress.mapping.workers
        let failedMaps = workers.filter { $0.mapErrno != 0 }.count
        let failedExits = workers.indices.filter { workers[$0].exitStatus != 0 }
        func who(_ index: Int) -> String { "process \(index) (\(index < stress.processes.count ? stress.processes[index].role : "?"))" }
        var detail = "\(stress.wordsVerified) words checked in a \(String(format: "%.1f", stress.soakSeconds)) s soak, \(stress.mismatches) wrong"
        if let index = stress.processes.firstIndex(where: { $0.firstMismatch != nil }), let first = stress.processes[index].firstMismatch {
            detail += " (first by \(who(index)): \(first))"
        }
        detail += ", \(stress.failedCalls) failed calls"
        if let index = stress.processes.firstIndex(where: { $0.firstFailure != nil }), let first = stress.processes[index].firstFailure {
            detail += " (first by \(who(index)): \(first))"
        }
        detail += ", \(failedMaps) failed mmaps, \(failedExits.count) processes exited non-zero"
        if let index = failedExits.first {
            detail += " (first: \(who(index)) \(workers[index].ending))"
        }
        return Verdict(expectation: expectation, passed: stress.mismatches == 0 && stress.failedCalls == 0 && failedMaps == 0 && failedExits.isEmpty,
                       detail: detail)
    }

    /// A persistence check: `data-intact` means every writer finished and every word
    /// read back as written after the power-off; `kernel-log-clean` covers both boots.
    /// Other expectations do not apply and pass with a note saying so.
    public static func judge(_ expectation: Expectation, written: PersistenceReport, verified: PersistenceReport,
                             findings: [ConsoleFinding]) -> Verdict {
        switch expectation {
        case .dataIntact:
            let lost = verified.mismatchedWords
            let passed = written.failedWriters == 0 && lost == 0 && verified.bytes == written.spec.bytes && verified.notes.isEmpty
            var detail = "\(verified.bytes) bytes read back after the power-off, \(lost) words wrong"
                + (verified.firstMismatchOffset.map { " (first at offset \($0))" } ?? "")
                + (written.spec.rewrite ? ", \(written.failedWriters) of \(2 * written.spec.writers) writers and rewriters failed"
                    : ", \(written.failedWriters) of \(written.spec.writers) writers failed")
            if !(written.notes + verified.notes).isEmpty { detail += "; " + (written.notes + verified.notes).joined(separator: "; ") }
            return Verdict(expectation: expectation, passed: passed, detail: detail)
        case .kernelLogClean:
            return Verdict(expectation: expectation, passed: findings.isEmpty,
                           detail: findings.isEmpty ? "no kernel reports in either boot" : summary(of: findings))
        default:
            return Verdict(expectation: expectation, passed: true, detail: "does not apply to a persistence check")
        }
    }
}
