import DaxRigRun
import Foundation
import DaxRigSupport

/// A subtest whose status tonight says something against the last complete night.
public struct NightFinding: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// A new failure that came back in most of its runs (the first and the re-runs).
        case regression
        /// A new failure that went away in most re-runs: reported, not a verdict.
        case flaky
        /// Failed the night before too: known, not new.
        case stillFailing = "still-failing"
        /// Failed the night before, passes tonight.
        case fixed
    }

    public var cell: String
    public var spec: String
    public var test: String
    public var before: TestStatus?
    public var after: TestStatus
    public var kind: Kind
    /// Runs in which it failed, of all its runs tonight (the first and the re-runs).
    public var failedRuns: Int
    public var runs: Int

    public var failureRate: Double { runs == 0 ? 0 : Double(failedRuns) / Double(runs) }
}

/// One matrix cell of a night: its run, the run it was compared with, its re-runs and
/// the metrics that moved beyond their noise.
public struct NightCell: Sendable, Codable, Equatable {
    public var cell: String
    public var spec: String
    public var status: TestStatus
    public var run: Int64?
    public var baselineRun: Int64?
    public var reruns: [Int64]
    public var changes: [Comparison.Change]
    /// Why the cell has no run: its kernel did not build, or the host failed it.
    public var error: String?

    public init(cell: String, spec: String, status: TestStatus, run: Int64?, baselineRun: Int64?, reruns: [Int64],
                changes: [Comparison.Change], error: String?) {
        (self.cell, self.spec, self.status, self.run, self.baselineRun) = (cell, spec, status, run, baselineRun)
        (self.reruns, self.changes, self.error) = (reruns, changes, error)
    }
}

/// What a night came to: each cell against the last complete night of the same
/// matrix, the findings, and the exit status.
public struct NightVerdict: Sendable, Codable, Equatable {
    public var night: Int64
    public var matrix: String
    public var baseline: Int64?
    public var cells: [NightCell]
    public var findings: [NightFinding]
    public var exitStatus: ExitStatus

    public init(night: Int64, matrix: String, baseline: Int64?, cells: [NightCell], findings: [NightFinding]) {
        self.night = night
        self.matrix = matrix
        self.baseline = baseline
        self.cells = cells
        self.findings = findings
        exitStatus = Self.exitStatus(cells: cells, findings: findings)
    }

    public var regressions: [NightFinding] { findings.filter { $0.kind == .regression } }

    static func isBad(_ status: TestStatus?) -> Bool { status == .fail || status == .error || status == .miss }

    /// A subtest's status in a run: its own line, or the line of its workload when that
    /// workload gave no report ("wl" for "wl.shares").
    static func status(of path: String, in record: RunRecord) -> TestStatus? {
        record.tests.first { $0.path == path }?.status
            ?? record.tests.filter { path.hasPrefix($0.path + ".") }.map(\.status).max()
    }

    /// Subtests that fail tonight and did not fail (FAIL or ERROR) the night before, nor
    /// end the same way (a MISS after a MISS: a kernel that still does not build, a guest
    /// that never boots): the ones worth re-running before anyone is told.
    public static func newFailures(_ tonight: RunRecord, baseline: RunRecord?) -> [String] {
        tonight.tests.filter { test in
            guard isBad(test.status) else { return false }
            let before = baseline.flatMap { status(of: test.path, in: $0) }
            return !(before?.isFailure ?? false) && before != test.status
        }.map(\.path)
    }

    /// Judges one cell: every bad subtest tonight is a regression or a flake (new, by
    /// its failure rate over the first run and the re-runs) or still failing (known);
    /// a subtest that failed the night before and passes now is fixed.
    public static func findings(cell: String, spec: String, tonight: RunRecord, baseline: RunRecord?, reruns: [RunRecord]) -> [NightFinding] {
        var findings: [NightFinding] = []
        let new = Set(newFailures(tonight, baseline: baseline))
        for test in tonight.tests {
            let before = baseline.flatMap { status(of: test.path, in: $0) }
            if isBad(test.status) {
                var kind = NightFinding.Kind.stillFailing
                var failed = 1
                var runs = 1
                if new.contains(test.path) {
                    let again = reruns.map { status(of: test.path, in: $0) }
                    // A re-run that lacks the subtest altogether did not clear it.
                    failed += again.filter { $0 == nil || isBad($0) }.count
                    runs += again.count
                    kind = failed * 2 > runs ? .regression : .flaky
                }
                findings.append(NightFinding(cell: cell, spec: spec, test: test.path, before: before, after: test.status,
                                             kind: kind, failedRuns: failed, runs: runs))
            } else if before?.isFailure == true {
                findings.append(NightFinding(cell: cell, spec: spec, test: test.path, before: before, after: test.status,
                                             kind: .fixed, failedRuns: 0, runs: 1))
            }
        }
        return findings
    }

    /// 1 for a regression to FAIL or a FAIL still there; 3 when only the rig failed
    /// (ERROR, MISS, also new ones that reproduce: the rig is the first suspect); 0
    /// otherwise, flakes included (they are in the report).
    static func exitStatus(cells: [NightCell], findings: [NightFinding]) -> ExitStatus {
        let counted = findings.filter { $0.kind == .regression || $0.kind == .stillFailing }
        if counted.contains(where: { $0.after == .fail }) { return .failed }
        if !counted.isEmpty || cells.contains(where: { $0.run == nil }) { return .infrastructure }
        return .passed
    }
}

/// A night's verdict as terminal text: one line per cell, then the findings.
public enum NightText {
    public static func render(_ verdict: NightVerdict) -> String {
        var lines = ["night \(verdict.night) of matrix \(verdict.matrix)"
            + (verdict.baseline.map { ", compared with night \($0)" } ?? ", the first complete night of this matrix: nothing to compare with")]
        let header = ["kernel", "spec", "status", "run", "before", "re-runs", "metrics moved"]
        let rows = verdict.cells.map { cell -> [String] in
            let reruns: String = cell.reruns.isEmpty ? "-" : cell.reruns.map { String($0) }.joined(separator: ",")
            let moved: String = cell.changes.isEmpty ? "-" : cell.changes.map { "\($0.test) \($0.metric)" }.joined(separator: ", ")
            let run: String = cell.run.map { String($0) } ?? "-"
            let before: String = cell.baselineRun.map { String($0) } ?? "-"
            return [cell.cell, cell.spec, cell.status.rawValue, run, before, reruns, cell.error.map { "no run: \($0)" } ?? moved]
        }
        lines += ResultTable.columns([header] + rows)
        for finding in verdict.findings {
            let label = finding.kind == .regression ? "REGRESSION" : finding.kind.rawValue
            lines.append("\(label) \(finding.cell) \(finding.spec) \(finding.test): \(finding.before?.rawValue ?? "absent") -> \(finding.after.rawValue)"
                + (finding.runs > 1 ? ", failed \(finding.failedRuns) of \(finding.runs) runs" : ""))
        }
        lines.append("exit status \(verdict.exitStatus.rawValue)")
        return lines.joined(separator: "\n")
    }
}
