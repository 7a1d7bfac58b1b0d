import Testing
import DaxRigRun
@testable import DaxRig
@testable import DaxRigResults

@Suite struct ComparisonTests {
    func record(_ status: TestStatus, pages: Double, mem: Double = 100) -> RunRecord {
        RunRecord(tests: [TestRecord(path: "w.shares", status: status, detail: ""), TestRecord(path: "w.no-leak", status: .pass, detail: "")],
                  metrics: [MetricRecord(test: "w", name: "pmd_pages", value: pages, unit: "pages"),
                            MetricRecord(test: "w", name: "guest_mem_used", value: mem, unit: "bytes"),
                            MetricRecord(test: "w", name: "seconds", value: pages, unit: "s")])
    }

    @Test func newFailureIsARegressionAndAFixIsNot() {
        let regression = Comparison(before: record(.pass, pages: 1), after: record(.fail, pages: 10), beforeSamples: [], afterSamples: [])
        #expect(regression.regressions == [Comparison.Transition(test: "w.shares", before: .pass, after: .fail)])
        let fix = Comparison(before: record(.fail, pages: 10), after: record(.pass, pages: 1), beforeSamples: [], afterSamples: [])
        #expect(fix.transitions.count == 1 && fix.regressions.isEmpty)
        // Wall-clock seconds are never a kernel change.
        #expect(regression.changes.map(\.metric) == ["pmd_pages"])
    }

    @Test func changesWithinTheSamplesNoiseAreIgnored() {
        let before = [record(.pass, pages: 10, mem: 100), record(.pass, pages: 10, mem: 140)]
        let after = [record(.pass, pages: 10, mem: 120), record(.pass, pages: 10, mem: 125)]
        let quiet = Comparison(before: before[0], after: after[0], beforeSamples: before, afterSamples: after)
        #expect(quiet.changes.isEmpty)  // mem moved by 2.5 on a noise of 40; pages did not move
        let loud = Comparison(before: before[0], after: record(.pass, pages: 1, mem: 400), beforeSamples: before,
                              afterSamples: [record(.pass, pages: 1, mem: 400), record(.pass, pages: 1, mem: 410)])
        #expect(loud.changes.map(\.metric).sorted() == ["guest_mem_used", "pmd_pages"])
        let pages = loud.changes.first { $0.metric == "pmd_pages" }
        #expect(pages?.before == 10 && pages?.after == 1 && pages?.noise == 0 && pages?.afterSamples == 2)
    }
}
