import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigSupport
@testable import DaxRigResults
@testable import DaxRigRun

/// The bisect oracle, git bisect's answers, and the result's confidence.
@Suite struct BisectTests {
    func record(_ tests: [(String, TestStatus)], pteFallback: Double? = nil) -> RunRecord {
        RunRecord(tests: tests.map { TestRecord(path: $0.0, status: $0.1, detail: "d") },
                  metrics: pteFallback.map { [MetricRecord(test: "w", name: "pte_fallback_pages", value: $0, unit: "pages")] } ?? [],
                  workloads: [WorkloadRecord(name: "w", backing: "fsdax-xfs", processes: 2, mappingBytes: 1 << 30)])
    }

    @Test func namedExpectationsDecideAndOtherFailuresDoNot() {
        let oracle = BisectOracle(expectations: ["no-fallback"])
        #expect(oracle.judge(record([("w.no-fallback", .pass), ("w.shares", .fail)])).verdict == .good)
        #expect(oracle.judge(record([("w.no-fallback", .fail), ("w.shares", .pass)])).verdict == .bad)
        // A workload that gave no report counts whatever was named: a crash is bad, a lost boot is the rig's.
        #expect(oracle.judge(record([("w", .fail)])).verdict == .bad)
        #expect(oracle.judge(record([("w", .miss)])).verdict == .infrastructure)
        #expect(oracle.judge(record([("w.shares", .pass)])).verdict == .infrastructure, "nothing named ran")
    }

    /// `--expect SUITE.TEST`: that test of that suite, its subtests with it, and no other.
    @Test func aSuiteTestIsNamedByItsPath() {
        let oracle = BisectOracle(expectations: ["selftests-mm.mremap_test"])
        #expect(oracle.judge(record([("selftests-mm.mremap_test", .pass), ("selftests-mm.gup_test_u", .fail)])).verdict == .good)
        #expect(oracle.judge(record([("selftests-mm.mremap_test", .pass), ("selftests-mm.mremap_test.2GB_mremap", .fail)])).verdict == .bad)
        #expect(oracle.judge(record([("selftests-mm.mremap_test", .miss)])).verdict == .infrastructure)
        #expect(oracle.judge(record([("selftests-mm.mremap_test_x", .fail)])).verdict == .infrastructure, "a longer name is another test")
    }

    @Test func anySubtestDecidesWhenNoneIsNamed() {
        let oracle = BisectOracle()
        #expect(oracle.judge(record([("w.no-fallback", .pass), ("w.shares", .fail)])).verdict == .bad)
        #expect(oracle.judge(record([("w.no-fallback", .pass), ("w.data-intact", .error)])).verdict == .infrastructure)
        #expect(oracle.judge(record([("w.no-fallback", .pass)])).verdict == .good)
    }

    @Test func aMetricBoundDecidesToo() {
        let oracle = BisectOracle(expectations: ["data-intact"], metric: "pte_fallback_pages", above: 100)
        #expect(oracle.judge(record([("w.data-intact", .pass)], pteFallback: 1022)).verdict == .bad)
        #expect(oracle.judge(record([("w.data-intact", .pass)], pteFallback: 0)).verdict == .good)
        #expect(oracle.keyValue(record([], pteFallback: 1022)) == 1022)
        #expect(BisectOracle().keyMetric == "pte_fallback_pages")
    }

    func output(_ text: String, status: Int32 = 0) -> Command.Output {
        Command.Output(status: status, standardOutput: text, standardError: "")
    }

    @Test func gitBisectAnswersAreRead() throws {
        let git = GitBisect(directory: "/nonexistent")
        let culprit = "4d39528e1a77ac4ce7500aef5e1ca614e90f1212"
        #expect(try git.next(after: output("\(culprit) is the first bad commit\ncommit \(culprit)\n"), action: "bad") == .firstBad(culprit))
        let skipped = """
            There are only 'skip'ped commits left to test.
            The first bad commit could be any of:
            f5f16152eb4a64fc7ef0149d5adfc375673eed92
            \(culprit)
            We cannot bisect more!
            """
        #expect(try git.next(after: output(skipped, status: 2), action: "skip") == .onlySkipped(["f5f16152eb4a64fc7ef0149d5adfc375673eed92", culprit]))
        #expect(throws: BisectError.self) { try git.next(after: output("fatal: bad revision", status: 128), action: "good") }
    }

    func step(_ verdict: BisectStep.Verdict, good: Int, bad: Int, role: String = "bisect") -> BisectStep {
        BisectStep(commit: UUID().uuidString, subject: "s", role: role, verdict: verdict, detail: "", buildSeconds: verdict == .skip ? nil : 10, cacheHit: false,
                   buildLog: nil, goodRuns: good, badRuns: bad, bootSeconds: 3, keyMetric: nil, runIDs: [])
    }

    /// Good calls are as sure as their runs make them against the flakiest failure seen.
    @Test func confidenceFollowsTheFailureRate() {
        func state(_ steps: [BisectStep]) -> BisectState {
            BisectState(repository: "/r", good: "g", bad: "b", goodCommit: "g", badCommit: "b", specPath: "s", specText: "", oracle: BisectOracle(),
                        runs: 3, patches: nil, base: "tinyconfig", fragments: [], assignments: [], store: "/s", started: Date(), steps: steps)
        }
        #expect(BisectReport.confidence(state([step(.bad, good: 0, bad: 3), step(.good, good: 3, bad: 0)])) == 1)
        // A bug that shows in half the runs hides behind 3 clean runs one time in 8.
        #expect(BisectReport.confidence(state([step(.bad, good: 3, bad: 3), step(.good, good: 3, bad: 0)])) == 0.875)
        let text = BisectReport.render(state([step(.good, good: 1, bad: 0, role: "endpoint"), step(.skip, good: 0, bad: 0)]))
        #expect(text.contains("2 commits tested: 1 built, 0 from the cache, 1 did not build"), "\(text)")
    }
}
