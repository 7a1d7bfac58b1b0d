import DaxRigRun
import Foundation

/// A stored run with everything recorded for it, as `daxrig report --json` writes it.
public struct StoredRunReport: Codable, Sendable {
    public struct Artifact: Codable, Sendable {
        public var kind: String
        public var path: String
        public init(kind: String, path: String) {
            self.kind = kind
            self.path = path
        }
    }

    public var run: StoredRun
    public var status: TestStatus
    public var tests: [TestRecord]
    public var metrics: [MetricRecord]
    public var workloads: [WorkloadRecord]
    public var artifacts: [Artifact]

    public init(run: StoredRun, record: RunRecord, artifacts: [Artifact]) {
        self.run = run
        status = run.state == .complete ? record.status : .error
        tests = record.tests
        metrics = record.metrics
        workloads = record.workloads
        self.artifacts = artifacts
    }

    public var record: RunRecord { RunRecord(tests: tests, metrics: metrics, workloads: workloads) }
}

/// The runs of the store as a terminal table.
public enum RunListing {
    public static func render(_ runs: [StoredRun]) -> String {
        guard !runs.isEmpty else { return "no runs recorded yet (daxrig run records each run)" }
        let header = ["run", "started", "state", "status", "spec", "kernel", "seconds"]
        let rows = runs.map { run in
            ["\(run.id)", run.started, run.state.rawValue, run.status?.rawValue ?? "-", run.spec,
             [run.kernelRelease, run.kernelKey.map { String($0.prefix(12)) }].compactMap { $0 }.joined(separator: " ").nonEmpty ?? run.kernelPath,
             run.seconds.map { String(format: "%.1f", $0) } ?? "-"]
        }
        return ResultTable.columns([header] + rows).joined(separator: "\n")
    }

    public static func render(nights: [StoredNight]) -> String {
        guard !nights.isEmpty else { return "no nights recorded yet (daxrig nightly records each night)" }
        let header = ["night", "started", "state", "matrix", "baseline", "exit"]
        let rows = nights.map { night in
            ["\(night.id)", night.started, night.state.rawValue, night.matrix, night.baseline.map(String.init) ?? "-", night.exitStatus.map(String.init) ?? "-"]
        }
        return ResultTable.columns([header] + rows).joined(separator: "\n")
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
