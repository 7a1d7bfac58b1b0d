import DaxRigProtocol
import Foundation
import DaxRigRun

/// One subtest's outcome as the store and the reports keep it: `path` is
/// "workload.expectation" (KCIDB's dotted test path), or the workload alone when it
/// gave no report.
public struct TestRecord: Sendable, Codable, Equatable {
    public var path: String
    public var status: TestStatus
    public var detail: String
    public var seconds: Double?

    public init(path: String, status: TestStatus, detail: String, seconds: Double? = nil) {
        self.path = path
        self.status = status
        self.detail = detail
        self.seconds = seconds
    }
}

/// One measured number of one workload.
public struct MetricRecord: Sendable, Codable, Equatable {
    public var test: String
    public var name: String
    public var value: Double
    public var unit: String

    public init(test: String, name: String, value: Double, unit: String) {
        self.test = test
        self.name = name
        self.value = value
        self.unit = unit
    }
}

/// What one workload of a run was: the coordinates its metrics are charted on.
public struct WorkloadRecord: Sendable, Codable, Equatable {
    public var name: String
    public var backing: String
    public var processes: Int
    public var mappingBytes: UInt64

    public init(name: String, backing: String, processes: Int, mappingBytes: UInt64) {
        self.name = name
        self.backing = backing
        self.processes = processes
        self.mappingBytes = mappingBytes
    }
}

/// What a spec run comes to, flattened for the store and for the reports.
public struct RunRecord: Sendable, Codable, Equatable {
    /// A suite's seconds: one per suite, so the store knows which paths are a suite's.
    public static let suiteMetric = "suite_seconds"

    public var tests: [TestRecord]
    public var metrics: [MetricRecord]
    public var workloads: [WorkloadRecord]

    /// The worst status of any subtest (KernelCI's order); SKIP when there is none.
    public var status: TestStatus { tests.map(\.status).max() ?? .skip }

    public init(tests: [TestRecord], metrics: [MetricRecord], workloads: [WorkloadRecord] = []) {
        self.tests = tests
        self.metrics = metrics
        self.workloads = workloads
    }

    public init(_ results: SpecResults) {
        var tests: [TestRecord] = []
        var metrics: [MetricRecord] = []
        // A stress run's mapping phase is stored as a workload: its page-table figures
        // are a workload's, on the same charts.
        let mapped = results.workloads + results.stress.map(\.mapping)
        let workloads = mapped.map(\.workload.spec).map {
            WorkloadRecord(name: $0.name, backing: $0.backing.rawValue, processes: $0.processes, mappingBytes: $0.mappingBytes)
        }
        for result in mapped {
            let name = result.workload.spec.name
            guard let report = result.report else {
                tests.append(TestRecord(path: name, status: TestStatus(noReportAfter: result.outcome), detail: result.error ?? "no report"))
                continue
            }
            for verdict in result.verdicts {
                tests.append(TestRecord(path: "\(name).\(verdict.expectation.rawValue)", status: verdict.passed ? .pass : .fail,
                                        detail: verdict.detail, seconds: report.seconds))
            }
            if result.verdicts.isEmpty { tests.append(TestRecord(path: name, status: .done, detail: "no expectations", seconds: report.seconds)) }
            let row = ResultRow(result)
            let figures: [(String, Double?, String)] = [
                ("page_tables_delta", row.pageTablesDeltaBytes.map { Double($0) }, "bytes"),
                ("pmd_pages", row.pmdPagesMeasured.map { Double($0) }, "pages"),
                ("pmd_pages_per_process", row.pmdPagesPerProcess, "pages"),
                ("sharing_ratio", row.sharingRatio.flatMap { $0.isFinite ? $0 : nil }, "x"),
                ("pte_fallback_pages", row.pteFallbackPages.map { Double($0) }, "pages"),
                ("faults_first", row.firstWorkerFaults.map { Double($0) }, "faults"),
                ("faults_later_median", row.laterWorkersMedianFaults.map { Double($0) }, "faults"),
                ("leak", row.leakBytes.map { Double($0) }, "bytes"),
                ("seconds", row.seconds, "s"),
                ("boot_seconds", result.bootSeconds, "s"),
                ("guest_mem_used", row.guestMemUsedBytes.map { Double($0) }, "bytes"),
                ("aligned_regions", row.alignedRegions.map { Double($0) }, "regions"),
                ("dax_pmd_nopage", row.pmdFaults.map { Double($0.noPage) }, "faults"),
                ("dax_pmd_fallback", row.pmdFaults.map { Double($0.fallback) }, "faults"),
            ]
            for (metric, value, unit) in figures {
                if let value { metrics.append(MetricRecord(test: name, name: metric, value: value, unit: unit)) }
            }
        }
        for result in results.stress {
            guard let report = result.report else { continue }
            let name = result.stress.spec.name
            for (role, count) in report.iterations {
                metrics.append(MetricRecord(test: name, name: "iterations_" + role.replacingOccurrences(of: "-", with: "_"), value: Double(count), unit: "iterations"))
            }
            metrics.append(MetricRecord(test: name, name: "words_checked", value: Double(report.wordsVerified), unit: "words"))
            metrics.append(MetricRecord(test: name, name: "words_wrong", value: Double(report.mismatches), unit: "words"))
            metrics.append(MetricRecord(test: name, name: "failed_calls", value: Double(report.failedCalls), unit: "calls"))
            metrics.append(MetricRecord(test: name, name: "soak_seconds", value: report.soakSeconds, unit: "s"))
        }
        for result in results.persistence {
            let name = result.check.spec.name
            guard result.write != nil, result.verify != nil else {
                tests.append(TestRecord(path: name, status: TestStatus(noReportAfter: result.outcome), detail: result.error ?? "no report"))
                continue
            }
            let seconds = (result.write?.seconds ?? 0) + (result.verify?.seconds ?? 0)
            for verdict in result.verdicts {
                tests.append(TestRecord(path: "\(name).\(verdict.expectation.rawValue)", status: verdict.passed ? .pass : .fail,
                                        detail: verdict.detail, seconds: seconds))
            }
            metrics.append(MetricRecord(test: name, name: "words_lost", value: Double(result.verify?.mismatchedWords ?? 0), unit: "words"))
        }
        // A suite's tests under the suite's name: "selftests-mm.gup_test_u", as KCIDB's
        // dotted paths nest them.
        for result in results.suites {
            for test in result.tests {
                tests.append(TestRecord(path: "\(result.suite.name).\(test.path)", status: test.status,
                                        detail: test.detail, seconds: nil))
            }
            if result.tests.isEmpty {
                tests.append(TestRecord(path: result.suite.name, status: TestStatus(noReportAfter: result.outcome), detail: result.outcome.map { "\($0)" } ?? "no output"))
            }
            // Also what marks the suite as one in the store (HTMLReport's suite section).
            metrics.append(MetricRecord(test: result.suite.name, name: Self.suiteMetric, value: result.seconds ?? 0, unit: "s"))
        }
        self.init(tests: tests, metrics: metrics, workloads: workloads)
    }
}
