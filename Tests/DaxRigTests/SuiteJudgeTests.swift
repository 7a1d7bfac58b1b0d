@testable import DaxRigMachine
import DaxRigSupport
import Foundation
import Testing
@testable import DaxRigRun

/// How a suite's KTAP and its boot's end become KernelCI verdicts, without a boot.
@Suite struct SuiteJudgeTests {
    static let flat = """
        TAP version 13
        1..4
        # selftests: mm: one
        ok 1 one
        # selftests: mm: two
        # \u{1B}[32mOK\u{1B}[0m step one
        # Swapout one page... \u{1B}[31mFail\u{1B}[0m
        not ok 2 two # exit=1
        # selftests: mm: three
        # partial output of three

        """

    func suite(expectedFailures: [String: String] = [:], counted: SuiteSpec.Counted = .all) -> SuiteSpec {
        SuiteSpec(name: "s", command: "x", counted: counted, expectedFailures: expectedFailures, expectedFailuresFile: "/host/path/known")
    }

    @Test func aCrashFailsTheRunningTestAndMissesTheRestOfThePlan() {
        let crash = ConsoleFinding(kind: .panic, line: 9, excerpt: "Kernel panic - not syncing: dumptest")
        let tests = SuiteJudge(suite: suite(), planned: ["one", "two", "three", "four"])
            .judge(KTAPDocument.parse(Self.flat), outcome: .kernelCrash(crash), findings: [crash], excerpt: "")
        #expect(tests.map(\.path) == ["one", "two", "three", "four", "kernel-log-clean"])
        #expect(tests.map(\.status) == [.pass, .fail, .fail, .miss, .fail])
        #expect(tests[2].detail.contains("dumptest") && tests[2].detail.contains("partial output of three"))
        // The evidence: the failing line first, without colours or kselftest's header.
        #expect(tests[1].detail.hasPrefix("exit=1") == false)
        #expect(tests[1].detail.contains("Swapout one page... Fail") && !tests[1].detail.contains("\u{1B}") && !tests[1].detail.contains("selftests: mm"))
    }

    @Test func aTimeoutIsAnErrorOfTheRunningTestNotAFail() {
        let tests = SuiteJudge(suite: suite()).judge(KTAPDocument.parse(Self.flat), outcome: .timeout(seconds: 60, lastPhase: "command"),
                                                     findings: [], excerpt: "")
        #expect(tests.first { $0.path == "three" }?.status == .error)
        #expect(tests.first { $0.path == "test-4" }?.status == .miss)
        #expect(!tests.contains { $0.path == "ktap" }, "a plan cut short by the stop is not a KTAP problem")
    }

    /// A guest that never booted: every planned test MISS under its own name (seen: the
    /// first was "hugepage-mmap-2", its name taken by the test that never ran).
    @Test func aBootFailureMissesEveryTestUnderItsOwnName() {
        let tests = SuiteJudge(suite: suite(), planned: ["one", "two"])
            .judge(KTAPDocument.parse(""), outcome: .bootFailure(reason: "panic", excerpt: ""),
                   findings: [ConsoleFinding(kind: .panic, line: 1, excerpt: "IO-APIC + timer doesn't work!")], excerpt: "")
        #expect(tests.map(\.path) == ["one", "two"] && tests.allSatisfy { $0.status == .miss && $0.detail.contains("did not boot") }, "\(tests)")
    }

    @Test func knownFailuresAreDoneWithTheirReasonAndAPassingOneSaysTheListIsStale() {
        let text = "1..2\nnot ok 1 a\nok 2 b\n"
        let tests = SuiteJudge(suite: suite(expectedFailures: ["a": "needs swap", "b": "was flaky"]))
            .judge(KTAPDocument.parse(text), outcome: .commandExited(status: 1, signal: nil), findings: [], excerpt: "")
        #expect(tests[0].status == .done && tests[0].detail.hasPrefix("expected failure (known): needs swap"))
        #expect(tests[1].status == .pass && tests[1].detail.contains("remove that line"))
        #expect(!tests.contains { $0.detail.contains("/host/path") })
    }

    @Test func onlyTheNamedTestsCountAndANamedTestThatNeverRanFails() {
        let text = "1..2\nnot ok 1 a\nok 2 b\n"
        let tests = SuiteJudge(suite: suite(counted: .named(["b", "c"])))
            .judge(KTAPDocument.parse(text), outcome: .commandExited(status: 1, signal: nil), findings: [], excerpt: "")
        #expect(tests.first { $0.path == "a" }?.status == .done)
        #expect(tests.first { $0.path == "c" }?.status == .fail)
    }

    @Test func noKTAPAPlanMismatchAndAWarningAreEachAVerdict() {
        let none = SuiteJudge(suite: suite()).judge(KTAPDocument.parse("sh: not found\n"), outcome: .commandExited(status: 127, signal: nil),
                                                    findings: [], excerpt: "sh: not found")
        #expect(none.first?.path == "ktap" && none.first?.status == .error && none.first?.detail.contains("exit status 127") == true)
        let warning = ConsoleFinding(kind: .warning, line: 3, excerpt: "WARNING: CPU: 0 PID: 1 at mm/x.c:1")
        let short = SuiteJudge(suite: suite()).judge(KTAPDocument.parse("1..3\nok 1 a\n"), outcome: .commandExited(status: 0, signal: nil),
                                                     findings: [warning], excerpt: "")
        #expect(short.map(\.path) == ["a", "ktap", "kernel-log-clean"])
        #expect(short.map(\.status) == [.pass, .error, .fail])
    }

    @Test(arguments: [
        ("selftests: mm: hugepage-mmap", "hugepage-mmap"), ("2MB mremap - Source 1MB-aligned", "2MB_mremap_-_Source_1MB-aligned"),
        ("", "test-7"), ("a.b.c", "a_b_c"), ("  ##  ", "test-7"), ("ünïcode", "n_code"),
    ])
    func namesBecomeOnePathComponent(_ description: String, _ name: String) {
        #expect(SuiteJudge.testName(description, number: 7) == name)
    }

    /// The review's cases: each of these was wrong before.
    @Test func aSerialConsolesCRLFLinesAreRecoveredAndMergedByNumber() {
        let stream = KTAPDocument.parse("TAP version 13\n1..4\n# selftests: mm: one\n# out\nok 1 one\n")
        let console = "[ 5.9] daxrig-ktap: 1..4\r\n[ 5.9] daxrig-ktap: ok 1 one\r\n[ 6.0] daxrig-ktap: not ok 2 two\r\n[ 6.0] daxrig-ktap: # selftests: mm: three\r\n[ 6.1] Kernel panic\r\n"
        let merged = SuiteRunner.recovered(stream, console: console)
        #expect(merged.results.map(\.number) == [1, 2] && merged.results[0].diagnostics.contains("out"), "\(merged.results)")
        #expect(merged.running?.hasSuffix("three") == true)
        // A log that dropped records (it saw less than the stream) changes nothing.
        let short = SuiteRunner.recovered(KTAPDocument.parse("1..3\nok 1 a\nok 2 b\n"), console: "daxrig-ktap: ok 1 a\r\n")
        #expect(short.results.count == 2)
    }

    @Test func aCrashBetweenTwoTestsBlamesTheRunnerNotTheNextTest() {
        let crash = ConsoleFinding(kind: .panic, line: 9, excerpt: "Kernel panic")
        let tests = SuiteJudge(suite: suite(), planned: ["one", "two", "three"])
            .judge(KTAPDocument.parse("1..3\nok 1 one\n"), outcome: .kernelCrash(crash), findings: [crash], excerpt: "")
        #expect(tests.map(\.path) == ["one", "runner", "two", "three", "kernel-log-clean"], "\(tests.map(\.path))")
        #expect(tests[1].status == .fail && tests[1].detail.contains("after test 1 ended and before test 2 started"))
        #expect(tests[2].status == .miss && tests[3].status == .miss)
    }

    @Test func aKnownFailureMasksAFailNeverAnErrorAndExpectedTestsThatSkipFail() {
        let text = "1..3\nnot ok 1 a # TIMEOUT 60 seconds\nok 2 b # SKIP no GUP_TEST\nnot ok 3 ktap\n"
        let tests = SuiteJudge(suite: suite(expectedFailures: ["a": "known"], counted: .named(["b"])))
            .judge(KTAPDocument.parse(text), outcome: .commandExited(status: 1, signal: nil), findings: [], excerpt: "")
        #expect(tests.first { $0.path == "a" }?.status == .done, "a timeout of a test not counted is DONE as not counted")
        #expect(tests.first { $0.path == "b" }?.status == .fail)
        #expect(tests.contains { $0.path == "ktap-2" }, "a guest test cannot take daxrig's own row's name")
        let counted = SuiteJudge(suite: suite(expectedFailures: ["a": "known"]))
            .judge(KTAPDocument.parse(text), outcome: .commandExited(status: 1, signal: nil), findings: [], excerpt: "")
        #expect(counted.first { $0.path == "a" }?.status == .error)
        #expect(throws: InputFileError.self) { try SuiteSpec.expectedFailures("kernel-log-clean splats are fine\n", path: "f") }
    }

    @Test func aHugePlanIsNotAHugeRun() {
        let tests = SuiteJudge(suite: suite()).judge(KTAPDocument.parse("1..999999999999999999\nok 1 a\n"),
                                                     outcome: .timeout(seconds: 1, lastPhase: "command"), findings: [], excerpt: "")
        #expect(tests.count < 10_010)
        #expect(SuiteJudge.excerpt(String(repeating: "\n", count: 5_000_000) + String(repeating: "x", count: 100_000)).count <= 530)
    }

    /// A crash before the channel delivered the runner's last lines: the kernel log has them.
    @Test func theKernelLogNamesTheTestTheChannelLost() {
        let stream = KTAPDocument.parse("TAP version 13\n1..3\n# selftests: mm: one\n# out\nok 1 one\n")
        let console = """
            [    5.9] daxrig-ktap: TAP version 13
            [    5.9] daxrig-ktap: 1..3
            [    5.9] daxrig-ktap: # selftests: mm: one
            [    6.0] daxrig-ktap: ok 1 one
            [    6.0] daxrig-ktap: # selftests: mm: two
            [    6.1] Kernel panic - not syncing: dumptest
            """
        let merged = SuiteRunner.recovered(stream, console: console)
        #expect(merged.results.count == 1 && merged.results[0].diagnostics.contains("out"))
        #expect(merged.running == "two" || merged.running == "selftests: mm: two")
        #expect(SuiteRunner.recovered(stream, console: "nothing") == stream)
    }
}
