import Foundation
import DaxRigResults

/// A bisect's result as terminal text: the culprit (or the range skips left), how
/// much it cost, how sure it is, and every step.
public enum BisectReport {
    /// Builds that compiled (cache hits and commits that did not build aside count
    /// apart), and boots: the figures the demo's benchmark prints.
    public static func counts(_ state: BisectState) -> (builds: Int, cacheHits: Int, failedBuilds: Int, runs: Int) {
        let steps = state.steps
        return (steps.filter { !$0.cacheHit && $0.buildSeconds != nil }.count, steps.filter(\.cacheHit).count,
                steps.filter { $0.buildSeconds == nil && !$0.cacheHit }.count, steps.map(\.runIDs.count).reduce(0, +))
    }

    /// How sure the good calls are. A commit called good after n clean runs could still
    /// carry a bug that shows in a fraction p of runs with probability (1-p)^n; p is the
    /// lowest failure rate seen on a bad commit (1 when every bad run failed).
    public static func confidence(_ state: BisectState) -> Double {
        let bad = state.steps.filter { $0.verdict == .bad }
        let rate = bad.map { Double($0.badRuns) / Double(max(1, $0.badRuns + $0.goodRuns)) }.min() ?? 1
        return state.steps.filter { $0.verdict == .good && $0.role == "bisect" }
            .map { 1 - pow(1 - rate, Double($0.goodRuns)) }.reduce(1, *)
    }

    public static func render(_ state: BisectState) -> String {
        var lines: [String] = []
        let subject = { (commit: String) in state.steps.first { $0.commit == commit }?.subject ?? "" }
        if let culprit = state.firstBad {
            lines.append("first bad commit: \(culprit) \(subject(culprit))")
        } else if let candidates = state.candidates {
            lines.append("skipped commits leave the first bad commit ambiguous; it is one of:")
            lines += candidates.map { "  \($0) \(subject($0))" }
        } else {
            lines.append("bisect of \(state.good)..\(state.bad) in progress (`daxrig bisect --resume`)")
        }
        let (builds, hits, failed, runs) = counts(state)
        lines.append("\(state.steps.count) commits tested: \(builds) built, \(hits) from the cache, \(failed) did not build; \(runs) boots"
            + String(format: "; confidence %.3f", confidence(state)))
        let header = ["commit", "subject", "step", "build", "boot s", "verdict", "runs g/b", state.oracle.keyMetric]
        let rows = state.steps.map { step -> [String] in
            let build = step.cacheHit ? "cache hit" : step.buildSeconds.map { String(format: "%.1f s", $0) } ?? "failed"
            let boot = step.bootSeconds.map { String(format: "%.1f", $0) } ?? "-"
            let metric = step.keyMetric.map(JUnitReport.format) ?? "-"
            return [String(step.commit.prefix(12)), String(step.subject.prefix(48)), step.role, build, boot, step.verdict.rawValue,
                    "\(step.goodRuns)/\(step.badRuns)", metric]
        }
        lines += ResultTable.columns([header] + rows)
        for step in state.steps where step.verdict != .good {
            lines.append("\(step.commit.prefix(12)) \(step.verdict.rawValue): \(step.detail)" + (step.verdict == .skip && step.buildLog != nil ? " (build log: \(step.buildLog!))" : ""))
        }
        return lines.joined(separator: "\n")
    }
}
