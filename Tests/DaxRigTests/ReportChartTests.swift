import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigSupport
@testable import DaxRigResults

/// The SVG charts and the HTML page drawn around them.
@Suite struct ReportChartTests {
    func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    @Test func aLinePerSeriesAndAMarkerPerPoint() {
        var chart = SVGChart(title: "PageTables <growth>", xLabel: "N", yLabel: "bytes", series: [
            .init(name: "unpatched fsdax-xfs", points: [.init(x: 1, y: 4096), .init(x: 10, y: 40960), .init(x: 100, y: 409_600)]),
            .init(name: "hugetlbfs & co", points: [.init(x: 100, y: 4096), .init(x: 1, y: 4096)]),
            .init(name: "one point", points: [.init(x: 10, y: 0)]),
        ])
        chart.logX = true
        chart.yFormat = .bytes
        let svg = chart.render()
        #expect(count("<polyline", in: svg) == 2)
        #expect(count("<circle", in: svg) == 6)
        #expect(svg.contains("PageTables &lt;growth&gt;"))
        #expect(svg.contains(#"data-series="hugetlbfs &amp; co""#))
        // Log ticks at the powers of ten; byte ticks on round KiB.
        for tick in [">1<", ">10<", ">100<", ">0 B<", ">100 KiB<", ">400 KiB<"] { #expect(svg.contains(tick), "\(tick)") }
        // Points are drawn in x order and inside the plot.
        let xs = svg.components(separatedBy: "cx=\"").dropFirst().compactMap { Double($0.prefix { $0 != "\"" }) }
        #expect(xs.allSatisfy { $0 >= SVGChart.margin.left && $0 <= Double(chart.width) - SVGChart.margin.right })
    }

    @Test func anEmptyChartSaysSo() {
        let svg = SVGChart(title: "t", xLabel: "x", yLabel: "y", series: []).render()
        #expect(svg.contains("no data yet"))
        #expect(!svg.contains("<polyline"))
    }

    @Test func roundTicks() {
        #expect(ChartScale(values: [0, 9.3], log: false, from: 0, to: 100, startAtZero: true).ticks() == [0, 2, 4, 6, 8])
        #expect(ChartScale(values: [0, 1_048_576], log: false, from: 0, to: 100, startAtZero: true).ticks(unit: 1_048_576).last == 1_048_576)
        #expect(ChartScale(values: [1, 10_000], log: true, from: 0, to: 100, startAtZero: false).ticks() == [1, 10, 100, 1000, 10_000])
    }

    func report(cell: String, backing: String, points: [(Int, Double)]) -> StoredRunReport {
        var run = StoredRunReport.sample
        run.run.cell = cell
        run.workloads = points.map { WorkloadRecord(name: "\(backing)-n\($0.0)", backing: backing, processes: $0.0, mappingBytes: 1 << 30) }
        run.metrics = points.map { MetricRecord(test: "\(backing)-n\($0.0)", name: "pmd_pages_per_process", value: $0.1, unit: "pages") }
        run.tests = [TestRecord(path: "\(backing)-n1.shares", status: .fail, detail: "10 pages <b>")]
        return run
    }

    /// The history chart only with two points in time; suites with their counts and
    /// their failures, the night's new ones first.
    @Test func oneNightDrawsNoLineAndSuitesAreCountedWithNewFailuresFirst() {
        var run = report(cell: "patched", backing: "fsdax-xfs", points: [(1, 1)])
        run.tests += [TestRecord(path: "mm.a", status: .pass, detail: ""), TestRecord(path: "mm.b", status: .fail, detail: "old"),
                      TestRecord(path: "mm.c", status: .fail, detail: "new one"), TestRecord(path: "mm.d", status: .skip, detail: "")]
        run.metrics.append(MetricRecord(test: "mm", name: RunRecord.suiteMetric, value: 40, unit: "s"))
        let finding = NightFinding(cell: "patched", spec: "s", test: "mm.c", before: .pass, after: .fail, kind: .regression, failedRuns: 3, runs: 3)
        let html = HTMLReport(title: "t", verdict: NightVerdict(night: 2, matrix: "m", baseline: 1, cells: [], findings: [finding]), runs: [run],
                              history: [HistoryPoint(x: "night 2", series: "s", value: 1)], historyMetric: "pmd_pages").render()
        #expect(count("<svg", in: html) == 1 && html.contains("one night or run so far; its chart needs two"))
        #expect(html.contains("<h2>Suites</h2>") && html.contains(#"<td>mm</td><td class="FAIL">2</td>"#), "\(html)")
        let new = html.range(of: "new one"), old = html.range(of: "<td>old</td>")
        #expect(new != nil && old != nil && new!.lowerBound < old!.lowerBound)
    }

    /// The page stands alone (no script, no fetch) and carries both charts, the
    /// verdict's findings and every subtest.
    @Test func htmlReportIsSelfContained() {
        let runs = [report(cell: "unpatched", backing: "fsdax-xfs", points: [(1, 4096), (10, 40960)]),
                    report(cell: "patched", backing: "fsdax-xfs", points: [(1, 4096), (10, 4096)])]
        let finding = NightFinding(cell: "patched", spec: "default", test: "fsdax-xfs-n1.shares", before: .pass, after: .fail,
                                   kind: .regression, failedRuns: 3, runs: 3)
        let verdict = NightVerdict(night: 2, matrix: "small", baseline: 1, cells: [], findings: [finding])
        let history = [HistoryPoint(x: "night 1", series: "patched w", value: 1), HistoryPoint(x: "night 2", series: "patched w", value: 10)]
        let report = HTMLReport(title: "night 2", verdict: verdict, runs: runs, history: history, historyMetric: "pmd_pages")
        let html = report.render()
        #expect(count("<svg", in: html) == 2)
        #expect(count("<polyline", in: html) == 3)
        #expect(report.pageTablesChart.series.map(\.name) == ["unpatched fsdax-xfs 1 GiB", "patched fsdax-xfs 1 GiB"])
        #expect(html.contains(#"<td class="regression">regression</td>"#))
        #expect(html.contains("3 of 3 (100%)"))
        #expect(html.contains("10 pages &lt;b&gt;"))
        #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("url(") && !html.contains("@import"))
        // The one "http" is the SVG namespace, which names and never fetches.
        #expect(html.components(separatedBy: "http").count - 1 == html.components(separatedBy: "http://www.w3.org/2000/svg").count - 1)
    }
}

extension StoredRunReport {
    /// A stored run as a fixture, without a store.
    static var sample: StoredRunReport {
        let json = """
            {"run": {"id": 1, "started": "2026-11-25T00:00:00Z", "state": "complete", "command": "daxrig nightly", "spec": "default",
                     "kernelPath": "/k/bzImage", "host": "h"},
             "status": "PASS", "tests": [], "metrics": [], "workloads": [], "artifacts": []}
            """
        return try! JSONCoding.decoder.decode(StoredRunReport.self, from: Data(json.utf8))
    }
}
