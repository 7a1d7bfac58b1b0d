import DaxRigProtocol
import Foundation
import DaxRigSupport
import DaxRigRun

/// One workload's figures, as the table and --json show them.
public struct ResultRow: Codable, Sendable {
    public var name: String
    public var backing: String
    public var processes: Int
    public var mappingBytes: UInt64
    public var pageTablesDeltaBytes: Int64?
    public var pmdPagesMeasured: Int64?
    public var pmdPagesPerProcess: Double?
    public var sharingRatio: Double?
    public var pteFallbackPages: UInt64?
    public var firstWorkerFaults: UInt64?
    public var laterWorkersMedianFaults: UInt64?
    public var leakBytes: Int64?
    public var seconds: Double?
    /// The guest's MemTotal, and MemTotal - MemAvailable with everything mapped.
    public var guestMemTotalBytes: UInt64?
    public var guestMemUsedBytes: UInt64?
    public var notes: [String]?
    /// FS/DAX: 2 MiB regions of the file a PMD can map (FIEMAP), and the
    /// fs_dax:dax_pmd_fault_done counts where the kernel has tracing.
    public var alignedRegions: UInt64?
    public var pmdFaults: PmdFaultCounts?
    /// Where the guest's seconds went (WorkloadPhase).
    public var phases: [WorkloadPhase]?
    public var verdicts: [Verdict]
    public var error: String?

    public init(_ result: WorkloadResult) {
        let spec = result.workload.spec
        name = spec.name
        backing = spec.backing.rawValue
        processes = spec.processes
        mappingBytes = spec.mappingBytes
        verdicts = result.verdicts
        error = result.error
        guard let report = result.report else { return }
        let a = report.accounting
        pageTablesDeltaBytes = a.pageTablePagesDelta * Int64(PmdAccounting.pageSize)
        guestMemTotalBytes = report.memTotal
        guestMemUsedBytes = report.memUsedMapped
        pmdPagesMeasured = a.measuredPMDPages
        pmdPagesPerProcess = Double(a.measuredPMDPages) / Double(spec.processes)
        // Undefined when no page tables were measured: JSON has no infinity.
        sharingRatio = a.sharingRatio.isFinite ? a.sharingRatio : nil
        pteFallbackPages = a.fallbackPages.reduce(0, +)
        firstWorkerFaults = a.firstWorkerFaults
        laterWorkersMedianFaults = a.laterWorkersMedianFaults
        leakBytes = a.leakBytes
        seconds = report.seconds
        notes = report.notes.isEmpty ? nil : report.notes
        alignedRegions = report.alignedRegions
        pmdFaults = report.pmdFaults
        phases = report.phases
    }
}

/// One persistence check's figures, as the table and --json show them.
public struct PersistenceRow: Codable, Sendable {
    public var name: String
    public var backing: String
    public var sync: String
    public var bytes: UInt64
    public var writers: Int
    public var writeSeconds: Double?
    public var verifySeconds: Double?
    public var mismatchedWords: UInt64?
    public var firstMismatchOffset: UInt64?
    public var verdicts: [Verdict]
    public var error: String?
    /// What the guest noted in either boot (the writers' and rewriters' page faults).
    public var notes: [String]?

    public init(_ result: PersistenceResult) {
        let spec = result.check.spec
        name = spec.name
        backing = spec.backing.rawValue
        sync = spec.sync.rawValue
        bytes = spec.bytes
        writers = spec.writers
        writeSeconds = result.write?.seconds
        verifySeconds = result.verify?.seconds
        mismatchedWords = result.verify?.mismatchedWords
        firstMismatchOffset = result.verify?.firstMismatchOffset
        verdicts = result.verdicts
        error = result.error
        let noted = (result.write?.notes ?? []) + (result.verify?.notes ?? [])
        notes = noted.isEmpty ? nil : noted
    }
}

/// One stress run's figures, as the table and --json show them.
public struct StressRow: Codable, Sendable {
    public struct Iterations: Codable, Sendable, Equatable {
        /// "sharer" or an op.
        public var role: String
        public var count: UInt64
    }

    public var name: String
    public var backing: String
    public var processes: Int
    public var sharers: Int
    public var ops: [String]
    public var mappingBytes: UInt64
    /// The longest soak of any process, measured.
    public var soakSeconds: Double?
    /// The mapping phase's page-table figures, as a workload's row.
    public var mapping: ResultRow?
    /// Per role (sharers summed), in process order.
    public var iterations: [Iterations]?
    public var wordsVerified: UInt64?
    public var mismatches: UInt64?
    public var failedCalls: UInt64?
    public var processDetails: [StressReport.Process]?
    public var verdicts: [Verdict]
    public var error: String?

    public init(_ result: StressResult) {
        let spec = result.stress.spec
        name = spec.name
        backing = spec.backing.rawValue
        processes = spec.processes
        sharers = spec.sharers
        ops = spec.ops.map(\.rawValue)
        mappingBytes = spec.bytes
        verdicts = result.verdicts
        error = result.error
        guard let report = result.report else { return }
        soakSeconds = report.soakSeconds
        mapping = ResultRow(result.mapping)
        iterations = report.iterations.map { Iterations(role: $0.role, count: $0.count) }
        wordsVerified = report.wordsVerified
        mismatches = report.mismatches
        failedCalls = report.failedCalls
        processDetails = report.processes
    }

    /// "sharer 120, munmap 14, ...".
    public var iterationList: String { (iterations ?? []).map { "\($0.role) \($0.count)" }.joined(separator: ", ") }
}

/// What `daxrig run --json` prints: the spec, and every run's figures and verdicts.
public struct SpecReport: Codable, Sendable {
    public var spec: String
    public var passed: Bool
    public var complete: Bool
    public var workloads: [ResultRow]
    public var persistence: [PersistenceRow]
    public var stress: [StressRow]
    public var suites: [SuiteRow]

    public init(_ results: SpecResults) {
        spec = results.spec.name
        passed = results.passed
        complete = results.complete
        workloads = results.workloads.map(ResultRow.init)
        persistence = results.persistence.map(PersistenceRow.init)
        stress = results.stress.map(StressRow.init)
        suites = results.suites.map(SuiteRow.init)
    }
}

/// The terminal tables of a run: backing x N -> the figures and the verdicts, then the
/// persistence checks and the stress runs.
public enum ResultTable {
    public static func render(_ results: SpecResults) -> String {
        var text: [String] = []
        if !results.workloads.isEmpty { text += workloadTable(results.workloads) }
        if !results.persistence.isEmpty {
            if !text.isEmpty { text.append("") }
            text += persistenceTable(results.persistence)
        }
        if !results.stress.isEmpty {
            if !text.isEmpty { text.append("") }
            text += stressTable(results.stress)
        }
        if !results.suites.isEmpty {
            if !text.isEmpty { text.append("") }
            text += suiteTable(results.suites)
        }
        for result in results.workloads + results.stress.map(\.mapping) {
            for note in result.report?.notes ?? [] { text.append("note \(result.workload.spec.name): \(note)") }
        }
        for result in results.persistence {
            for note in PersistenceRow(result).notes ?? [] { text.append("note \(result.check.spec.name): \(note)") }
        }
        let judged = results.workloads.map { ($0.workload.spec.name, $0.verdicts) } + results.persistence.map { ($0.check.spec.name, $0.verdicts) }
            + results.stress.map { ($0.stress.spec.name, $0.verdicts) }
        for (name, verdicts) in judged {
            for verdict in verdicts where !verdict.passed {
                text.append("FAIL \(name) \(verdict.expectation.rawValue): \(verdict.detail)")
            }
        }
        for result in results.suites {
            for test in result.tests where test.status.isFailure {
                text.append("\(test.status.rawValue) \(result.suite.name).\(test.path): " + (test.detail.split(separator: "\n").first.map(String.init) ?? ""))
            }
        }
        return text.joined(separator: "\n")
    }

    static func suiteTable(_ results: [SuiteResult]) -> [String] {
        let header = ["suite", "tests", "pass", "fail", "error", "miss", "done", "skip", "seconds", "ended"]
        let rows = results.map { result -> [String] in
            let count = { (status: TestStatus) in "\(result.tests.count { $0.status == status })" }
            return [result.suite.name, "\(result.tests.count)", count(.pass), count(.fail), count(.error), count(.miss), count(.done), count(.skip),
                    result.seconds.map { String(format: "%.0f", $0) } ?? "-", result.outcome?.name ?? "-"]
        }
        return columns([header] + rows)
    }

    static func workloadTable(_ results: [WorkloadResult]) -> [String] {
        let header = ["workload", "N", "PageTables delta", "PMD pages/proc", "sharing", "PTE fallbacks", "faults 1st/later", "leak", "verdicts"]
        let rows = results.map { result -> [String] in
            let row = ResultRow(result)
            guard result.report != nil else {
                return [row.name, "\(row.processes)", "-", "-", "-", "-", "-", "-", "ERROR: \(row.error ?? "no report")"]
            }
            return [
                row.name, "\(row.processes)",
                ByteSize.formatSigned(row.pageTablesDeltaBytes ?? 0),
                String(format: "%.2f", row.pmdPagesPerProcess ?? 0),
                row.sharingRatio.map { String(format: "%.1fx", $0) } ?? "-",
                "\(row.pteFallbackPages ?? 0)",
                "\(row.firstWorkerFaults ?? 0)/\(row.laterWorkersMedianFaults.map(String.init) ?? "-")",
                ByteSize.formatSigned(row.leakBytes ?? 0),
                verdictList(result.verdicts),
            ]
        }
        return columns([header] + rows)
    }

    static func persistenceTable(_ results: [PersistenceResult]) -> [String] {
        let header = ["persistence", "size", "writers", "sync", "write s", "verify s", "words wrong", "verdicts"]
        let rows = results.map { result -> [String] in
            let row = PersistenceRow(result)
            let seconds = { (value: Double?) in value.map { String(format: "%.1f", $0) } ?? "-" }
            return [row.name, ByteSize.format(row.bytes), "\(row.writers)", row.sync, seconds(row.writeSeconds), seconds(row.verifySeconds),
                    row.mismatchedWords.map(String.init) ?? "-",
                    result.error.map { "ERROR: \($0)" } ?? verdictList(result.verdicts)]
        }
        return columns([header] + rows)
    }

    static func stressTable(_ results: [StressResult]) -> [String] {
        let header = ["stress", "N", "soak", "PageTables delta", "PMD pages/proc", "leak", "iterations", "words checked", "wrong", "failed calls", "verdicts"]
        let rows = results.map { result -> [String] in
            let row = StressRow(result)
            guard let mapping = row.mapping else {
                return [row.name, "\(row.processes)", "-", "-", "-", "-", "-", "-", "-", "-", "ERROR: \(row.error ?? "no report")"]
            }
            return [row.name, "\(row.processes)", String(format: "%.0f s", row.soakSeconds ?? 0),
                    ByteSize.formatSigned(mapping.pageTablesDeltaBytes ?? 0), String(format: "%.2f", mapping.pmdPagesPerProcess ?? 0),
                    ByteSize.formatSigned(mapping.leakBytes ?? 0), row.iterationList, "\(row.wordsVerified ?? 0)", "\(row.mismatches ?? 0)",
                    "\(row.failedCalls ?? 0)", verdictList(result.verdicts)]
        }
        return columns([header] + rows)
    }

    static func verdictList(_ verdicts: [Verdict]) -> String {
        verdicts.isEmpty ? "-" : verdicts.map { "\($0.expectation.rawValue) \($0.passed ? "ok" : "FAIL")" }.joined(separator: ", ")
    }

    /// Left-aligned columns, the last one left ragged.
    public static func columns(_ rows: [[String]]) -> [String] {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { cells in
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
    }
}
