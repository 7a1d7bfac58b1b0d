import DaxRigRun
/// Spec results as KTAP v1 (the kernel's test output format): one test per workload,
/// persistence check or stress run, one subtest per expectation, the numbers behind each verdict
/// as diagnostic lines. The kernel's own parser reads it
/// (tools/testing/kunit/kunit.py parse), and so does anything that reads KUnit.
public enum KTAP {
    public static func render(_ results: SpecResults) -> String {
        var tests: [(name: String, figures: String?, verdicts: [Verdict], error: String?)] = []
        for result in results.workloads {
            tests.append((result.workload.spec.name, result.report == nil ? nil : figures(result), result.verdicts, result.error))
        }
        for result in results.persistence {
            let row = PersistenceRow(result)
            tests.append((result.check.spec.name, result.verify == nil ? nil :
                "\(row.bytes) bytes by \(row.writers) writers (\(row.sync)), \(row.mismatchedWords ?? 0) words wrong after the power-off",
                result.verdicts, result.error))
        }
        for result in results.stress {
            let row = StressRow(result)
            tests.append((result.stress.spec.name, result.report == nil ? nil :
                figures(result.mapping) + String(format: "; soak %.1f s, iterations ", row.soakSeconds ?? 0) + row.iterationList
                    + ", \(row.wordsVerified ?? 0) words checked, \(row.mismatches ?? 0) wrong, \(row.failedCalls ?? 0) failed calls",
                result.verdicts, result.error))
        }
        var lines = ["KTAP version 1", "1..\(tests.count + results.suites.count)"]
        for (index, test) in tests.enumerated() {
            let name = testName(test.name)
            lines.append("    KTAP version 1")
            lines.append("    # Subtest: \(name)")
            guard let figures = test.figures else {
                lines.append("    1..0")
                lines.append("# \(name): \(test.error ?? "no report")")
                lines.append("not ok \(index + 1) \(name)")
                continue
            }
            lines.append("    1..\(test.verdicts.count)")
            lines.append("    # \(name): \(figures)")
            for (number, verdict) in test.verdicts.enumerated() {
                lines.append("    # \(verdict.expectation.rawValue): \(verdict.detail)")
                lines.append("    \(verdict.passed ? "ok" : "not ok") \(number + 1) \(verdict.expectation.rawValue)")
            }
            lines.append("\(test.verdicts.allSatisfy(\.passed) ? "ok" : "not ok") \(index + 1) \(name)")
        }
        for (index, result) in results.suites.enumerated() {
            lines += suite(result, number: tests.count + index + 1)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A suite as one test whose subtests are its tests, flat (a nested test's dotted
    /// path is its name), each failure's detail as diagnostics before its line.
    static func suite(_ result: SuiteResult, number: Int) -> [String] {
        let name = testName(result.suite.name)
        var lines = ["    KTAP version 1", "    # Subtest: \(name)", "    1..\(result.tests.count)"]
        for (index, test) in result.tests.enumerated() {
            if test.status != .pass && test.status != .skip {
                lines += test.detail.split(separator: "\n").prefix(20).map { "    # \(test.path): \($0)" }
            }
            let directive = switch test.status {
            case .skip: " # SKIP " + (test.detail.split(separator: "\n").first.map(String.init) ?? "")
            case .done: " # XFAIL"
            default: ""
            }
            lines.append("    \(test.status == .pass || test.status == .skip || test.status == .done ? "ok" : "not ok") \(index + 1) \(testName(test.path))\(directive)")
        }
        lines.append("\(result.passed ? "ok" : "not ok") \(number) \(name)")
        return lines
    }

    /// A workload's (or a stress run's mapping phase's) figures and notes.
    static func figures(_ result: WorkloadResult) -> String {
        let row = ResultRow(result)
        var figures = "PageTables delta \(row.pageTablesDeltaBytes ?? 0) bytes, PMD table pages \(row.pmdPagesMeasured ?? 0),"
        figures += " PTE fallback pages \(row.pteFallbackPages ?? 0), faults first \(row.firstWorkerFaults ?? 0)"
        figures += " later \(row.laterWorkersMedianFaults.map(String.init) ?? "-"), leak \(row.leakBytes ?? 0) bytes"
        if let traced = row.pmdFaults { figures += ", dax_pmd_fault_done NOPAGE \(traced.noPage) FALLBACK \(traced.fallback)" }
        for note in result.report?.notes ?? [] { figures += "; \(note)" }
        return figures
    }

    /// KTAP test names end at '#', and kunit.py splits on white space.
    static func testName(_ name: String) -> String {
        String(name.map { $0 == "#" || $0.isWhitespace ? "_" : $0 })
    }
}
