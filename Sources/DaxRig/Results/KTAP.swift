/// Workload results as KTAP v1 (the kernel's test output format): one test per
/// workload, one subtest per expectation, the numbers behind each verdict as
/// diagnostic lines. The kernel's own parser reads it
/// (tools/testing/kunit/kunit.py parse), and so does anything that reads KUnit.
public enum KTAP {
    public static func render(_ results: [WorkloadResult]) -> String {
        var lines = ["KTAP version 1", "1..\(results.count)"]
        for (index, result) in results.enumerated() {
            let name = testName(result.workload.spec.name)
            let row = ResultRow(result)
            lines.append("    KTAP version 1")
            lines.append("    # Subtest: \(name)")
            if result.report == nil {
                lines.append("    1..0")
                lines.append("# \(name): \(result.error ?? "no report")")
                lines.append("not ok \(index + 1) \(name)")
                continue
            }
            lines.append("    1..\(result.verdicts.count)")
            lines.append("    # \(name): PageTables delta \(row.pageTablesDeltaBytes ?? 0) bytes, PMD table pages \(row.pmdPagesMeasured ?? 0),"
                + " PTE fallback pages \(row.pteFallbackPages ?? 0), faults first \(row.firstWorkerFaults ?? 0)"
                + " later \(row.laterWorkersMedianFaults.map(String.init) ?? "-"), leak \(row.leakBytes ?? 0) bytes")
            for (number, verdict) in result.verdicts.enumerated() {
                lines.append("    # \(verdict.expectation.rawValue): \(verdict.detail)")
                lines.append("    \(verdict.passed ? "ok" : "not ok") \(number + 1) \(verdict.expectation.rawValue)")
            }
            lines.append("\(result.passed ? "ok" : "not ok") \(index + 1) \(name)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// KTAP test names end at '#', and kunit.py splits on white space.
    static func testName(_ name: String) -> String {
        String(name.map { $0 == "#" || $0.isWhitespace ? "_" : $0 })
    }
}
