import DaxRigRun
import Foundation
import DaxRigSupport

/// One point of a metric's history: its x label (a night, or a run), the series
/// (kernel and workload) and the value.
public struct HistoryPoint: Sendable, Codable, Equatable {
    public var x: String
    public var series: String
    public var value: Double

    public init(x: String, series: String, value: Double) {
        self.x = x
        self.series = series
        self.value = value
    }
}

/// A static HTML page of runs (one, or a night's): the verdict, two charts drawn by
/// `SVGChart` (PageTables delta against N per kernel and backing; a metric over nights)
/// and every subtest with its numbers. Self-contained: no script, no stylesheet or font
/// from anywhere, so it opens the same offline, from a CI artifact or a mail.
public struct HTMLReport: Sendable {
    public var title: String
    public var verdict: NightVerdict?
    public var runs: [StoredRunReport]
    public var history: [HistoryPoint]
    public var historyMetric: String

    public init(title: String, verdict: NightVerdict?, runs: [StoredRunReport], history: [HistoryPoint], historyMetric: String) {
        self.title = title
        self.verdict = verdict
        self.runs = runs
        self.history = history
        self.historyMetric = historyMetric
    }

    /// The kernel's name in a chart or table: its matrix cell, else its release and key.
    static func kernelName(_ run: StoredRun) -> String {
        run.cell ?? [run.kernelRelease, run.kernelKey.map { String($0.prefix(8)) }].compactMap { $0 }.joined(separator: " ").nonEmpty ?? "kernel"
    }

    /// PMD table pages per process against the number of processes, one line per kernel
    /// and backing: private tables stay at one per GiB mapped, shared ones fall as 1/N.
    /// PageTables growth was charted before, on a linear axis where ext4's 285 MiB of PTE
    /// fallbacks flattened xfs's 3.9 MiB and hugetlbfs's 4 KiB into one line at zero; per
    /// process PMD pages are what sharing changes, and every backing has them.
    public var pageTablesChart: SVGChart {
        var series: [String: [SVGChart.Point]] = [:]
        var order: [String] = []
        for report in runs {
            for workload in report.workloads {
                guard let pages = report.metrics.first(where: { $0.test == workload.name && $0.name == "pmd_pages_per_process" }) else { continue }
                let name = "\(Self.kernelName(report.run)) \(workload.backing) \(ByteSize.format(workload.mappingBytes))"
                if series[name] == nil { order.append(name) }
                series[name, default: []].append(.init(x: Double(workload.processes), y: pages.value))
            }
        }
        var chart = SVGChart(title: "PMD table pages per process against processes", xLabel: "processes (N)", yLabel: "PMD table pages per process",
                             series: order.map { .init(name: $0, points: series[$0]!) })
        chart.logX = true
        return chart
    }

    /// Nights (or runs) the history has: a line over time needs two.
    public var historyPoints: Int { Set(history.map(\.x)).count }

    /// The history metric, one line per kernel and workload, over the nights (or runs).
    public var historyChart: SVGChart {
        var xs: [String] = []
        for point in history where !xs.contains(point.x) { xs.append(point.x) }
        var order: [String] = []
        var series: [String: [SVGChart.Point]] = [:]
        for point in history {
            if series[point.series] == nil { order.append(point.series) }
            series[point.series, default: []].append(.init(x: Double(xs.firstIndex(of: point.x)!), y: point.value))
        }
        var chart = SVGChart(title: "\(historyMetric) over time", xLabel: "night or run", yLabel: historyMetric,
                             series: order.map { .init(name: $0, points: series[$0]!) })
        chart.xNames = Dictionary(uniqueKeysWithValues: xs.enumerated().map { (Double($0.offset), $0.element) })
        return chart
    }

    /// Each run's suites: their counts, then the failures, tonight's findings first.
    func suiteSection(_ esc: (String) -> String) -> [String] {
        let suites = runs.flatMap { report in report.metrics.filter { $0.name == RunRecord.suiteMetric }.map { (report, $0.test) } }
        guard !suites.isEmpty else { return [] }
        let findings = Set((verdict?.findings ?? []).filter { $0.kind == .regression || $0.kind == .flaky }.map { "\($0.cell)/\($0.test)" })
        var html = ["<h2>Suites</h2><table><tr><th>run</th><th>suite</th>" + TestStatus.allCases.map { "<th>\($0.rawValue)</th>" }.joined() + "</tr>"]
        var failures: [(new: Bool, run: Int64, test: TestRecord)] = []
        for (report, suite) in suites {
            let tests = report.tests.filter { $0.path.hasPrefix(suite + ".") }
            html.append("<tr><td>\(report.run.id)</td><td>\(esc(suite))</td>" + TestStatus.allCases.map { status in
                let count = tests.count { $0.status == status }
                return count == 0 ? "<td>0</td>" : #"<td class="\#(status.rawValue)">\#(count)</td>"#
            }.joined() + "</tr>")
            failures += tests.filter(\.status.isFailure).map { (findings.contains("\(report.run.cell ?? "")/\($0.path)"), report.run.id, $0) }
        }
        html.append("</table>")
        if !failures.isEmpty {
            html.append("<table><tr><th>run</th><th>test</th><th>status</th><th>new tonight</th><th>detail</th></tr>")
            for failure in failures.sorted(by: { $0.new && !$1.new }) {
                html.append(#"<tr><td>\#(failure.run)</td><td>\#(esc(failure.test.path))</td><td class="\#(failure.test.status.rawValue)">\#(failure.test.status.rawValue)</td>"#
                    + #"<td>\#(failure.new ? "<b class=\"regression\">new</b>" : "")</td><td>\#(esc(String(failure.test.detail.prefix(2000))))</td></tr>"#)
            }
            html.append("</table>")
        }
        return html
    }

    public func render() -> String {
        let esc = XMLText.escape
        var html = ["<!DOCTYPE html>", #"<html lang="en"><head><meta charset="utf-8">"#,
                    "<title>\(esc(title))</title>",
                    """
                    <style>
                    body { font-family: "DejaVu Sans", sans-serif; margin: 24px; color: #222; }
                    table { border-collapse: collapse; margin: 8px 0 20px; }
                    th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; font-size: 13px; vertical-align: top; }
                    th { background: #f0f0f0; }
                    .FAIL { background: #f8d0d0; } .ERROR { background: #f8e0b0; } .MISS { background: #e8e0f0; }
                    .PASS { background: #d8f0d8; } .DONE, .SKIP { background: #eeeeee; }
                    .regression { color: #b00000; font-weight: bold; } .flaky { color: #a06000; }
                    .charts { display: flex; flex-wrap: wrap; gap: 16px; }
                    code { font-size: 12px; }
                    </style>
                    """,
                    "</head><body>", "<h1>\(esc(title))</h1>"]
        if let verdict {
            let outcome: String
            switch verdict.exitStatus {
            case .passed: outcome = "every expectation held"
            case .failed: outcome = "a test failed or regressed"
            case .badInput: outcome = "bad input"
            case .infrastructure: outcome = "the rig failed somewhere (ERROR or MISS)"
            }
            html.append(#"<p id="verdict">Night \#(verdict.night) of matrix <b>\#(esc(verdict.matrix))</b>: \#(esc(outcome)) (exit status \#(verdict.exitStatus.rawValue)). "#
                + (verdict.baseline.map { "Compared with night \($0)." } ?? "No earlier complete night to compare with.") + "</p>")
            let shown = verdict.findings.filter { $0.kind != .stillFailing || $0.after == .fail }
            if !shown.isEmpty {
                html.append("<h2>Findings</h2><table><tr><th>kind</th><th>kernel</th><th>spec</th><th>subtest</th><th>before</th><th>tonight</th><th>failed runs</th></tr>")
                for f in shown {
                    html.append(#"<tr><td class="\#(f.kind.rawValue)">\#(f.kind.rawValue)</td><td>\#(esc(f.cell))</td><td>\#(esc(f.spec))</td><td>\#(esc(f.test))</td>"#
                        + #"<td>\#(f.before?.rawValue ?? "absent")</td><td class="\#(f.after.rawValue)">\#(f.after.rawValue)</td><td>\#(f.failedRuns) of \#(f.runs) (\#(Int((f.failureRate * 100).rounded()))%)</td></tr>"#)
                }
                html.append("</table>")
            }
            let changes = verdict.cells.flatMap { cell in cell.changes.map { (cell, $0) } }
            if !changes.isEmpty {
                html.append("<h2>Metrics beyond their noise</h2><table><tr><th>kernel</th><th>workload</th><th>metric</th><th>before</th><th>tonight</th><th>noise</th></tr>")
                for (cell, c) in changes {
                    html.append("<tr><td>\(esc(cell.cell))</td><td>\(esc(c.test))</td><td>\(esc(c.metric))</td><td>\(JUnitReport.format(c.before)) \(esc(c.unit))</td><td>\(JUnitReport.format(c.after)) \(esc(c.unit))</td><td>\(JUnitReport.format(c.noise)) (\(c.beforeSamples)/\(c.afterSamples) samples)</td></tr>")
                }
                html.append("</table>")
            }
        }
        html.append(#"<h2>Charts</h2><div class="charts">"#)
        html.append(pageTablesChart.render())
        if historyPoints >= 2 {
            html.append(historyChart.render())
        } else {
            html.append("<p>\(esc(historyMetric)) over time: \(historyPoints == 1 ? "one night or run so far" : "no night or run yet"); its chart needs two.</p>")
        }
        html.append("</div>")
        html += suiteSection(esc)

        html.append("<h2>Runs</h2><table><tr><th>run</th><th>kernel</th><th>spec</th><th>status</th><th>started</th><th>seconds</th><th>environment</th></tr>")
        for report in runs {
            let run = report.run
            html.append(##"<tr><td><a href="#run-\##(run.id)">\##(run.id)</a></td><td>\##(esc(Self.kernelName(run)))</td><td>\##(esc(run.spec))</td>"##
                + #"<td class="\#(report.status.rawValue)">\#(report.status.rawValue)</td><td>\#(esc(run.started))</td><td>\#(run.seconds.map { String(format: "%.1f", $0) } ?? "-")</td>"#
                + "<td>QEMU \(esc(run.qemuVersion ?? "?")) (\(esc(run.accelerator ?? "?"))), libvirt \(esc(run.libvirtVersion ?? "?")), \(esc(run.host))</td></tr>")
        }
        html.append("</table>")
        for report in runs {
            let run = report.run
            html.append(#"<h3 id="run-\#(run.id)">Run \#(run.id): \#(esc(Self.kernelName(run))), spec \#(esc(run.spec))</h3>"#)
            html.append("<table><tr><th>subtest</th><th>status</th><th>detail</th></tr>")
            for test in report.tests {
                html.append(#"<tr><td>\#(esc(test.path))</td><td class="\#(test.status.rawValue)">\#(test.status.rawValue)</td><td>\#(esc(test.detail))</td></tr>"#)
            }
            html.append("</table>")
            if !report.artifacts.isEmpty {
                html.append("<p>Kept: " + report.artifacts.map { "\(esc($0.kind)) <code>\(esc($0.path))</code>" }.joined(separator: ", ") + "</p>")
            }
        }
        html.append("<p>Written by daxrig. Statuses as KernelCI has them: FAIL &gt; ERROR &gt; MISS &gt; PASS &gt; DONE &gt; SKIP.</p>")
        html.append("</body></html>")
        return html.joined(separator: "\n") + "\n"
    }
}
