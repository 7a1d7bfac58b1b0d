import DaxRigProtocol
import Foundation

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
        let fresh = spec.pudAligned
        pageTablesDeltaBytes = a.pageTablePagesDelta * Int64(PmdAccounting.pageSize)
        pmdPagesMeasured = a.measuredPMDPages(freshPUDTable: fresh)
        pmdPagesPerProcess = Double(a.measuredPMDPages(freshPUDTable: fresh)) / Double(spec.processes)
        sharingRatio = a.sharingRatio(freshPUDTable: fresh)
        pteFallbackPages = a.fallbackPages(freshPUDTable: fresh).reduce(0, +)
        firstWorkerFaults = a.firstWorkerFaults
        laterWorkersMedianFaults = a.laterWorkersMedianFaults
        leakBytes = a.leakBytes
        seconds = report.seconds
    }
}

/// The terminal table of a run: backing x N -> the figures and the verdicts.
public enum ResultTable {
    public static func render(_ results: [WorkloadResult]) -> String {
        let header = ["backing", "N", "PageTables delta", "PMD pages/proc", "sharing", "PTE fallbacks", "faults 1st/later", "leak", "verdicts"]
        var rows: [[String]] = []
        for result in results {
            let row = ResultRow(result)
            guard result.report != nil else {
                rows.append([row.backing, "\(row.processes)", "-", "-", "-", "-", "-", "-", "ERROR: \(row.error ?? "no report")"])
                continue
            }
            let verdicts = result.verdicts.map { "\($0.expectation.rawValue) \($0.passed ? "ok" : "FAIL")" }.joined(separator: ", ")
            rows.append([
                row.backing, "\(row.processes)",
                ByteSize.formatSigned(row.pageTablesDeltaBytes ?? 0),
                String(format: "%.2f", row.pmdPagesPerProcess ?? 0),
                (row.sharingRatio ?? 0).isFinite ? String(format: "%.1fx", row.sharingRatio ?? 0) : "inf",
                "\(row.pteFallbackPages ?? 0)",
                "\(row.firstWorkerFaults ?? 0)/\(row.laterWorkersMedianFaults.map(String.init) ?? "-")",
                ByteSize.formatSigned(row.leakBytes ?? 0),
                verdicts.isEmpty ? "-" : verdicts,
            ])
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        var text = [line(header)] + rows.map(line)
        var failures: [String] = []
        for result in results {
            for verdict in result.verdicts where !verdict.passed {
                failures.append("FAIL \(result.workload.spec.name) \(verdict.expectation.rawValue): \(verdict.detail)")
            }
        }
        text += failures
        return text.joined(separator: "\n")
    }
}
