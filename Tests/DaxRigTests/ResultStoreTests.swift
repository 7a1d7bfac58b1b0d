import DaxRigProtocol
import DaxRigSupport
import Foundation
import Synchronization
import Testing
@testable import DaxRig
@testable import DaxRigMachine
@testable import DaxRigResults
@testable import DaxRigRun

@Suite struct ResultStoreTests {
    func store() throws -> (ResultStore, URL) {
        let directory = try Fixtures.temporaryDirectory()
        return (try ResultStore(path: directory.appendingPathComponent("results.sqlite").path), directory)
    }

    let inputs = RunInputs(command: "daxrig run", spec: "default", specText: "name = \"default\"", kernelPath: "/k/bzImage", kernelKey: "abc",
                           kernelRelease: "6.1.192", source: "tarball:x", patchSeries: nil, patchesHash: nil, configHash: "c", host: "h",
                           qemuVersion: "7.2.0", libvirtVersion: "9.0.0", accelerator: "tcg")

    @Test func statusesOrderAsKernelCIHasThem() {
        #expect([TestStatus.skip, .pass, .fail, .done, .miss, .error].max() == .fail)
        #expect([TestStatus.skip, .pass, .done, .miss, .error].max() == .error)
        #expect([TestStatus.skip, .pass, .done, .miss].max() == .miss)
        #expect([TestStatus.skip, .done, .pass].max() == .pass)
        #expect(TestStatus(noReportAfter: .bootFailure(reason: "x", excerpt: "")) == .miss)
        #expect(TestStatus(noReportAfter: .infrastructure("libvirt")) == .error)
        #expect(TestStatus(noReportAfter: .kernelCrash(ConsoleFinding(kind: .oops, line: 1, excerpt: "Oops"))) == .fail)
    }

    /// A state this daxrig does not know (a newer one's, or a hand-edited store) reads
    /// as incomplete: listed, never a baseline, never taken for a finished run.
    @Test func aStateThisDaxrigDoesNotKnowReadsAsIncomplete() throws {
        let (store, directory) = try store()
        defer { try? FileManager.default.removeItem(at: directory) }
        let id = try store.begin(inputs)
        try store.finish(id, record: RunRecord(tests: [], metrics: []), artifacts: [], seconds: 1)
        try store.database.write { try $0.execute(sql: "UPDATE run SET state = 'paused' WHERE id = ?", arguments: [id]) }
        #expect(try store.run(id)?.state == .incomplete)
        #expect(try store.lastComplete() == nil)
        let night = try store.beginNight(matrix: "m", path: "/m.toml", matrixHash: nil)
        try store.database.write { try $0.execute(sql: "UPDATE night SET state = 'archived' WHERE id = ?", arguments: [night]) }
        #expect(try store.night(night)?.state == .incomplete)
        #expect(try store.lastCompleteNight(matrix: "m", before: night + 1) == nil)
        // The same from JSON, as `report list --print-json` prints a store's runs.
        var json = try JSONCoding.encoder.encode(try #require(try store.run(id)))
        json = Data(String(decoding: json, as: UTF8.self).replacingOccurrences(of: #""state":"incomplete""#, with: #""state":"paused""#).utf8)
        #expect(try JSONCoding.decoder.decode(StoredRun.self, from: json).state == .incomplete)
    }

    /// A status this daxrig does not know reads as ERROR wherever it is stored (a
    /// subtest's, a run's) or printed as JSON: the listing still reads, the run is
    /// never taken for a pass, and no subtest drops out of it.
    @Test func aStatusThisDaxrigDoesNotKnowReadsAsError() throws {
        let (store, directory) = try store()
        defer { try? FileManager.default.removeItem(at: directory) }
        let id = try store.begin(inputs)
        try store.finish(id, record: RunRecord(tests: [TestRecord(path: "w.shares", status: .pass, detail: "1 table"),
                                                       TestRecord(path: "w.no-leak", status: .pass, detail: "0 bytes")], metrics: []),
                         artifacts: [("console", "/c.log")], seconds: 1)
        try store.database.write {
            try $0.execute(sql: "UPDATE run SET status = 'FLAKY' WHERE id = ?", arguments: [id])
            try $0.execute(sql: "UPDATE test SET status = 'XFAIL' WHERE path = 'w.shares'")
        }
        #expect(try store.runs().map(\.status) == [.error])
        let report = try store.report(id)
        #expect(report.tests.map(\.status) == [.error, .pass])
        #expect(report.artifacts.map(\.path) == ["/c.log"])
        let json = String(decoding: try JSONCoding.encoder.encode(TestRecord(path: "t", status: .pass, detail: "")), as: UTF8.self)
            .replacingOccurrences(of: #""PASS""#, with: #""XPASS""#)
        #expect(try JSONCoding.decoder.decode(TestRecord.self, from: Data(json.utf8)).status == .error)
    }

    @Test func aRunIsIncompleteUntilFinishedThenHasEverything() throws {
        let (store, directory) = try store()
        defer { try? FileManager.default.removeItem(at: directory) }
        let id = try store.begin(inputs)
        #expect(try store.runs().map(\.state) == [.incomplete])
        #expect(try store.lastComplete() == nil)
        let record = RunRecord(tests: [TestRecord(path: "w.shares", status: .fail, detail: "10 pages", seconds: 1),
                                       TestRecord(path: "w.no-leak", status: .pass, detail: "0 bytes", seconds: 1)],
                               metrics: [MetricRecord(test: "w", name: "pmd_pages", value: 10, unit: "pages")],
                               workloads: [WorkloadRecord(name: "w", backing: "fsdax-xfs", processes: 10, mappingBytes: 1 << 30)])
        try store.finish(id, record: record, artifacts: [("console-log", "/x/console.log")], seconds: 2)
        let run = try #require(try store.lastComplete())
        #expect(run.id == id && run.state == .complete && run.status == .fail && run.kernelKey == "abc" && run.accelerator == "tcg")
        #expect(try store.record(id) == record)
        #expect(try store.artifacts(id).map(\.path) == ["/x/console.log"])
        #expect(try store.integrityCheck() == "ok")
        // A second process opening the same file sees the same history.
        #expect(try ResultStore(path: store.path).runs().count == 1)
    }

    /// Issue 14, item 3: a reader holding a transaction (daxrig report, a sqlite3 shell)
    /// made the final COMMIT fail with "database is locked", and the run was lost. Four
    /// writers, each its own connection as four daxrig processes would have, finish runs
    /// while another process holds a read transaction open.
    @Test func runsFinishWhileAnotherProcessHoldsAReadTransaction() throws {
        let (store, directory) = try store()
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try store.begin(inputs)
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        reader.arguments = ["-c", """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute("BEGIN")
            c.execute("SELECT count(*) FROM run").fetchall()
            print("held", flush=True)
            time.sleep(float(sys.argv[2]))
            """, store.path, "600"]
        let out = Pipe()
        reader.standardOutput = out
        try reader.run()
        // SIGKILL: the child may inherit a mask that blocks SIGTERM from the test runner.
        defer { kill(reader.processIdentifier, SIGKILL); reader.waitUntilExit() }
        #expect(String(decoding: out.fileHandleForReading.availableData, as: UTF8.self).contains("held"))
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { index in
            do {
                let writer = try ResultStore(path: store.path)
                let id = try writer.begin(inputs)
                let record = RunRecord(tests: [TestRecord(path: "w\(index).data-intact", status: .pass, detail: "0 words wrong", seconds: 1)],
                                       metrics: [], workloads: [])
                try writer.finish(id, record: record, artifacts: [], seconds: 1)
            } catch {
                failures.withLock { $0.append("writer \(index): \(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        #expect(try store.runs().filter { $0.state == .complete }.count == 4)
        #expect(try store.integrityCheck() == "ok")
    }

    @Test func unusableStoreSaysWhereAndWhatToDo() {
        #expect(throws: StoreError.self) { try ResultStore(path: "/proc/daxrig/results.sqlite") }
    }

    @Test func noReportBecomesOneSubtestWithTheBootsStatus() {
        let spec = WorkloadSpec(name: "w-n1", backing: .tmpfs, processes: 1, mappingBytes: 2 << 20)
        let missing = WorkloadResult(workload: WorkloadCase(spec: spec, expectations: [.noLeak]), report: nil, verdicts: [],
                                     error: "no report", outcome: .bootFailure(reason: "no init", excerpt: ""))
        let record = RunRecord(SpecResults(spec: TestSpec(name: "s", workloads: []), workloads: [missing], persistence: []))
        #expect(record.tests == [TestRecord(path: "w-n1", status: .miss, detail: "no report")])
        #expect(record.status == .miss)
    }

    @Test func junitEscapesAndClassifies() throws {
        let (store, directory) = try store()
        defer { try? FileManager.default.removeItem(at: directory) }
        let id = try store.begin(inputs)
        try store.finish(id, record: RunRecord(tests: [TestRecord(path: "w.shares", status: .fail, detail: "a < b & \"c\"\u{1b}[0m"),
                                                      TestRecord(path: "boot", status: .miss, detail: "no boot")], metrics: []),
                         artifacts: [], seconds: 1)
        let xml = JUnitReport.render([try store.report(id)])
        #expect(xml.contains(#"<failure message="a &lt; b &amp; &quot;c&quot; [0m" type="FAIL"/>"#))
        #expect(xml.contains(#"<testcase classname="default" name="boot""#))
        #expect(xml.contains(#"<skipped message="MISS: no boot"/>"#))
        #expect(xml.contains(#"tests="2" failures="1" errors="0" skipped="1""#))
    }
}
