import Foundation
import DaxRigSupport

/// What a report is made of, read back from the store: one run (`daxrig report RUN`)
/// or a night's first runs with its verdict (`daxrig nightly`, `daxrig report --night`).
/// Every format is written from this one set, so they never disagree.
public struct ReportSet: Sendable {
    public var title: String
    public var verdict: NightVerdict?
    public var runs: [StoredRunReport]
    public var history: [HistoryPoint]
    public var historyMetric: String

    /// The metric charted over time unless asked otherwise: the PMD table pages a
    /// workload's processes hold, the number sharing is about.
    public static let defaultHistoryMetric = "pmd_pages"

    /// One run, its metric history drawn from the earlier runs of the same kernel and spec.
    public static func run(_ id: Int64, store: ResultStore, historyMetric: String = defaultHistoryMetric) throws -> ReportSet {
        let report = try store.report(id)
        var history: [HistoryPoint] = []
        for sample in try store.samples(like: report.run).filter({ $0 <= id }).suffix(30) {
            for metric in try store.record(sample).metrics where metric.name == historyMetric {
                history.append(HistoryPoint(x: "run \(sample)", series: metric.test, value: metric.value))
            }
        }
        return ReportSet(title: "daxrig run \(id): spec \(report.run.spec) on \(HTMLReport.kernelName(report.run))",
                         verdict: nil, runs: [report], history: history, historyMetric: historyMetric)
    }

    /// A night's first runs (re-runs are in its verdict's failure rates) and its verdict,
    /// the metric's history over the last nights of the same matrix.
    public static func night(_ id: Int64, store: ResultStore, historyMetric: String = defaultHistoryMetric) throws -> ReportSet {
        guard let night = try store.night(id) else { throw StoreError.noSuchNight("\(id)") }
        let verdict = try night.summary.map { try JSONCoding.decoder.decode(NightVerdict.self, from: Data($0.utf8)) }
        let runs = try store.runs(night: id).filter { $0.rerunOf == nil }.map { try store.report($0.id) }
        let history = try store.history(metric: historyMetric, matrix: night.matrix, including: id).map {
            HistoryPoint(x: "night \($0.night)", series: "\($0.cell) \($0.test)", value: $0.value)
        }
        return ReportSet(title: "daxrig night \(id): matrix \(night.matrix), \(night.started)", verdict: verdict, runs: runs,
                         history: history, historyMetric: historyMetric)
    }

    public var html: String {
        HTMLReport(title: title, verdict: verdict, runs: runs, history: history, historyMetric: historyMetric).render()
    }

    public var junit: String { JUnitReport.render(runs) }

    public func kcidb() throws -> Data { try KCIDBReport.json(runs) }

    /// JSON: the run itself for one run; the verdict and the runs for a night.
    public func json() throws -> Data {
        struct Night: Encodable {
            var verdict: NightVerdict
            var runs: [StoredRunReport]
        }
        if let verdict { return try JSONCoding.encoder.encode(Night(verdict: verdict, runs: runs)) }
        return try JSONCoding.encoder.encode(runs.first)
    }

    /// Writes the four reports into `directory` as report.xml (JUnit), report.json,
    /// report.kcidb.json and report.html; returns their paths.
    public func writeAll(to directory: String) throws -> [String] {
        let base = URL(fileURLWithPath: directory)
        let files = [("report.xml", Data(junit.utf8)), ("report.json", try json()), ("report.kcidb.json", try kcidb()), ("report.html", Data(html.utf8))]
        return try files.map { name, data in
            let path = base.appendingPathComponent(name).path
            try Files.write(data, to: path)
            return path
        }
    }
}
