import DaxRigProtocol
import DaxRigRun
import Foundation
import Testing

/// The guest's reports decode once, as the kind they say they are; one that does not
/// decode is named with its error and text instead of becoming "no report".
@Suite struct GuestReportsTests {
    let workload = WorkloadReport(spec: WorkloadSpec(name: "w", backing: .fsdaxXfs, processes: 1, mappingBytes: 1 << 30),
                                  preFork: 0, control: 0, mapped: 0, final: 0, workers: [], patternWords: 0, seconds: 1, notes: [])

    @Test func aReportDecodesAsTheKindItSays() throws {
        let text = String(decoding: try JSONEncoder().encode(GuestReport.workload(workload)), as: UTF8.self)
        let reports = GuestReports([(name: "000-w.json", text: text)])
        #expect(reports.workloads == [workload])
        #expect(reports.stress.isEmpty && reports.persistence.isEmpty && reports.malformed.isEmpty)
        #expect(reports.malformedNote.isEmpty)
    }

    @Test(arguments: [
        "",                                                    // nothing
        "{\"kind\":\"workload\",\"report\":{\"spec\":1}}",      // a workload that is not one
        "{\"kind\":\"mystery\",\"report\":{}}",                 // a kind this host does not know
        String(repeating: "x", count: 1 << 20),                // a megabyte of garbage
    ])
    func aReportThatDoesNotDecodeIsNamedWithItsText(_ text: String) {
        let reports = GuestReports([(name: "003-bad.json", text: text)])
        #expect(reports.workloads.isEmpty && reports.stress.isEmpty && reports.persistence.isEmpty)
        #expect(reports.malformed.count == 1)
        #expect(reports.malformedNote.contains("003-bad.json does not decode ("), "\(reports.malformedNote)")
        #expect(reports.malformedNote.count < 2000, "a report's text is quoted in part, not whole")
    }

    /// An untyped workload report, as the agent wrote it before: not taken for any kind.
    @Test func aBareWorkloadReportIsNotGuessedAt() throws {
        let text = String(decoding: try JSONEncoder().encode(workload), as: UTF8.self)
        #expect(GuestReports([(name: "000-w.json", text: text)]).malformed.count == 1)
    }
}
