import DaxRigRun
import Foundation

/// Two sides of a comparison (runs, or all the runs of one kernel and spec) held
/// against each other: subtest status transitions, and metric changes that stand
/// out of the noise. The noise of a metric is the spread its repeated samples show
/// on either side (LKP's compare does the same): a change smaller than what one
/// kernel varies by on its own is no change.
public struct Comparison: Sendable, Codable {
    public struct Transition: Sendable, Codable, Equatable {
        public var test: String
        public var before: TestStatus?
        public var after: TestStatus?
        /// PASS (or DONE, or absent) to FAIL/ERROR: a new failure.
        public var isRegression: Bool {
            guard let after, after.isFailure else { return false }
            return !(before?.isFailure ?? false)
        }
    }

    public struct Change: Sendable, Codable, Equatable {
        public var test: String
        public var metric: String
        public var unit: String
        public var before: Double
        public var after: Double
        /// The larger spread of the two sides' samples; 0 with one sample each.
        public var noise: Double
        public var beforeSamples: Int
        public var afterSamples: Int
    }

    public var transitions: [Transition]
    public var changes: [Change]

    public var regressions: [Transition] { transitions.filter(\.isRegression) }

    /// `before` and `after` are the runs compared (their statuses); the samples are
    /// every run of the same kernel and spec on each side, the compared run included.
    public init(before: RunRecord, after: RunRecord, beforeSamples: [RunRecord], afterSamples: [RunRecord]) {
        let statusBefore = Dictionary(before.tests.map { ($0.path, $0.status) }, uniquingKeysWith: max)
        let statusAfter = Dictionary(after.tests.map { ($0.path, $0.status) }, uniquingKeysWith: max)
        var paths: [String] = []
        for path in before.tests.map(\.path) + after.tests.map(\.path) where !paths.contains(path) { paths.append(path) }
        transitions = paths.compactMap { path in
            let (a, b) = (statusBefore[path], statusAfter[path])
            return a == b ? nil : Transition(test: path, before: a, after: b)
        }
        func values(_ records: [RunRecord]) -> [String: (unit: String, values: [Double])] {
            var result: [String: (unit: String, values: [Double])] = [:]
            for record in records {
                for metric in record.metrics {
                    result["\(metric.test)\u{0}\(metric.name)", default: (metric.unit, [])].values.append(metric.value)
                }
            }
            return result
        }
        let a = values(beforeSamples.isEmpty ? [before] : beforeSamples)
        let b = values(afterSamples.isEmpty ? [after] : afterSamples)
        changes = a.keys.sorted().compactMap { key -> Change? in
            guard let left = a[key], let right = b[key] else { return nil }
            // Wall-clock seconds are not a kernel property on a shared TCG host.
            let parts = key.split(separator: "\u{0}").map(String.init)
            guard left.unit != "s" else { return nil }
            let mean = { (v: [Double]) in v.reduce(0, +) / Double(v.count) }
            let spread = { (v: [Double]) in (v.max() ?? 0) - (v.min() ?? 0) }
            let noise = max(spread(left.values), spread(right.values))
            let (x, y) = (mean(left.values), mean(right.values))
            guard abs(y - x) > noise, abs(y - x) > 1e-9 * max(1, abs(x)) else { return nil }
            return Change(test: parts[0], metric: parts[1], unit: left.unit, before: x, after: y, noise: noise,
                          beforeSamples: left.values.count, afterSamples: right.values.count)
        }
    }

    enum CodingKeys: String, CodingKey { case transitions, changes }
}

extension Comparison.Change {
    enum CodingKeys: String, CodingKey { case test, metric, unit, before, after, noise, beforeSamples, afterSamples }
}

extension ResultStore {
    /// Two stored runs compared, each side sampled by every complete run of its kernel
    /// and spec: what `daxrig compare` prints and what a night compares cell by cell.
    public func comparison(_ before: StoredRun, _ after: StoredRun) throws -> Comparison {
        Comparison(before: try record(before.id), after: try record(after.id),
                   beforeSamples: try samples(like: before).map(record), afterSamples: try samples(like: after).map(record))
    }
}

/// A comparison as terminal text.
public enum ComparisonText {
    public static func render(_ comparison: Comparison, before: StoredRun, after: StoredRun) -> String {
        var lines = ["run \(before.id) (\(before.kernelRelease ?? "?") \(before.kernelKey?.prefix(12) ?? "")) -> run \(after.id) (\(after.kernelRelease ?? "?") \(after.kernelKey?.prefix(12) ?? "")), spec \(after.spec)"]
        if comparison.transitions.isEmpty {
            lines.append("no status changes")
        } else {
            for t in comparison.transitions {
                lines.append("\(t.isRegression ? "REGRESSION" : "change    ") \(t.test): \(t.before?.rawValue ?? "absent") -> \(t.after?.rawValue ?? "absent")")
            }
        }
        if comparison.changes.isEmpty {
            lines.append("no metric changed beyond its noise")
        } else {
            for c in comparison.changes {
                lines.append("metric \(c.test) \(c.metric): \(JUnitReport.format(c.before)) -> \(JUnitReport.format(c.after)) \(c.unit)"
                    + (c.beforeSamples < 2 && c.afterSamples < 2 ? " (one sample each: noise unknown, run again for samples)"
                        : " (noise \(JUnitReport.format(c.noise)); samples \(c.beforeSamples)/\(c.afterSamples))"))
            }
        }
        return lines.joined(separator: "\n")
    }
}
