import DaxRigProtocol
import Testing
@testable import DaxRig
@testable import DaxRigMachine
@testable import DaxRigRun

/// Findings go to the case that ran when the kernel printed them (issue 12: a
/// MADV_COLD stress run's `bad pmd` lines failed every workload of its boot).
@Suite struct ConsoleSectionsTests {
    static let log = """
        [    1.0] Run /init as init process
        [    2.0] WARNING: CPU: 0 PID: 1 at boot.c:1 early+0x1/0x2
        [    3.0] \(CaseMarker.beginning("f1-noncongruent-4k-n2"))
        [    3.5] nothing to see
        [    4.0] \(CaseMarker.beginning("f5-madv-cold"))
        [    4.1] mm/pgtable-generic.c:51: bad pmd (____ptrval____)(8000000440a000e7)
        [    4.2] mm/pgtable-generic.c:51: bad pmd (____ptrval____)(8000000440c000e7)
        [    5.0] \(CaseMarker.end)
        [    6.0] WARNING: CPU: 1 PID: 1 at shutdown.c:2 late+0x1/0x2
        """

    @Test func aFindingCountsAgainstItsOwnCaseAndOutsideOnesAgainstAll() {
        let findings = ConsoleScanner.scan(Self.log)
        #expect(findings.map(\.kind) == [.warning, .badPageTable, .badPageTable, .warning])
        let sections = ConsoleSections(log: Self.log)
        #expect(sections.cases == ["f1-noncongruent-4k-n2": 3..<5, "f5-madv-cold": 5..<8])
        #expect(sections.findings(findings, for: "f1-noncongruent-4k-n2").map(\.line) == [2, 9])
        #expect(sections.findings(findings, for: "f5-madv-cold").map(\.line) == [2, 6, 7, 9])
        // A case the console has no marker for (an older agent): everything counts.
        #expect(sections.findings(findings, for: "other").count == 4)
    }

    @Test func aRepeatedMarkerCannotTakeAnotherCasesLines() {
        let log = "\(CaseMarker.beginning("a"))\nx\n\(CaseMarker.beginning("b"))\nBUG: oops in b\n\(CaseMarker.beginning("a"))\nmore\n"
        let sections = ConsoleSections(log: log)
        #expect(sections.cases["a"] == 1..<3)
        #expect(sections.cases["b"] == 3..<5)
        let findings = ConsoleScanner.scan(log)
        #expect(sections.findings(findings, for: "a").isEmpty)
        #expect(sections.findings(findings, for: "b").count == 1)
    }

    @Test func theLastCaseRunsToTheEndWithoutAnEndMarker() {
        let log = "\(CaseMarker.beginning("only"))\n[ 1.0] BUG: unable to handle page fault for address: 0\n"
        let sections = ConsoleSections(log: log)
        #expect(sections.findings(ConsoleScanner.scan(log), for: "only").count == 1)
        #expect(CaseMarker.beginning("two\nlines") == CaseMarker.begins + "twolines")
    }

    @Test func aFloodOfReportsIsOneLineOfVerdictPerKind() {
        let findings = (0..<1000).map { ConsoleFinding(kind: .badPageTable, line: 10 + $0, excerpt: "mm/pgtable-generic.c:51: bad pmd (x)") }
            + [ConsoleFinding(kind: .warning, line: 2000, excerpt: "WARNING: at x\nmore")]
        #expect(Judge.summary(of: findings)
            == "1000 bad-page-table (first at console line 10: mm/pgtable-generic.c:51: bad pmd (x)); 1 warning (first at console line 2000: WARNING: at x)")
    }
}
