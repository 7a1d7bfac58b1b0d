import Foundation
import DaxRigResults

/// What makes a commit good or bad: the named expectations of the spec (or, when none
/// is named, any of its subtests), and optionally a metric bound, e.g. PTE fallback
/// pages above 100. A boot that never came up or a rig failure is neither: it is
/// retried, then skipped.
public struct BisectOracle: Sendable, Codable, Equatable {
    public enum Verdict: String, Sendable, Codable {
        case good, bad
        /// MISS or ERROR: the rig, not the commit, said nothing.
        case infrastructure
    }

    /// Expectation names ("no-fallback"); empty means every subtest counts.
    public var expectations: [String]
    /// A metric judged per workload ("pte_fallback_pages"); also the step table's key metric.
    public var metric: String?
    /// Bad when the metric of any workload is above this.
    public var above: Double?
    /// Bad when the metric of any workload is below this.
    public var below: Double?

    public init(expectations: [String] = [], metric: String? = nil, above: Double? = nil, below: Double? = nil) {
        self.expectations = expectations
        self.metric = metric
        self.above = above
        self.below = below
    }

    /// The metric the step table shows: the one judged, else PTE fallback pages, the
    /// number an FS/DAX PMD regression moves first.
    public var keyMetric: String { metric ?? "pte_fallback_pages" }

    /// A subtest counts when no expectation is named, when it names one of them, or
    /// when it is a whole workload that gave no report (a crash or a failed boot). A
    /// suite's test is named by its path, `SUITE.TEST` ("selftests-mm.gup_test_u"),
    /// which takes its subtests along.
    func counts(_ test: TestRecord, workloads: Set<String>) -> Bool {
        guard !expectations.isEmpty else { return true }
        if workloads.contains(test.path) || !test.path.contains(".") { return true }
        return expectations.contains { test.path.hasSuffix("." + $0) || test.path == $0 || test.path.hasPrefix($0 + ".") }
    }

    public func judge(_ record: RunRecord) -> (verdict: Verdict, detail: String) {
        let workloads = Set(record.workloads.map(\.name))
        let relevant = record.tests.filter { counts($0, workloads: workloads) }
        if let failed = relevant.first(where: { $0.status == .fail }) {
            return (.bad, "\(failed.path) FAIL: \(failed.detail)")
        }
        if let metric {
            for value in record.metrics where value.name == metric {
                if let above, value.value > above { return (.bad, "\(value.test) \(metric) \(JUnitReport.format(value.value)) > \(JUnitReport.format(above))") }
                if let below, value.value < below { return (.bad, "\(value.test) \(metric) \(JUnitReport.format(value.value)) < \(JUnitReport.format(below))") }
            }
        }
        if let broken = relevant.first(where: { $0.status == .error || $0.status == .miss }) {
            return (.infrastructure, "\(broken.path) \(broken.status.rawValue): \(broken.detail)")
        }
        // SKIP or DONE alone (a suite test that did not run, a known failure) says
        // nothing of the commit.
        if !expectations.isEmpty, !relevant.isEmpty, metric == nil, relevant.allSatisfy({ $0.status == .skip || $0.status == .done }) {
            return (.infrastructure, "\(relevant.count) subtest(s) named, none ran to a verdict (SKIP or DONE)")
        }
        if relevant.isEmpty && metric == nil {
            return (.infrastructure, "no subtest named \(expectations.joined(separator: ", ")) in the run")
        }
        return (.good, relevant.isEmpty ? "\(keyMetric) within bounds" : "\(relevant.count) subtest(s) passed")
    }

    /// The key metric's largest value over the workloads of a run.
    public func keyValue(_ record: RunRecord) -> Double? {
        record.metrics.filter { $0.name == keyMetric }.map(\.value).max()
    }
}
