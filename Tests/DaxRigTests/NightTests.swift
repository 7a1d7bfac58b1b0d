import DaxRigSupport
import DaxRigProtocol
import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigResults
@testable import DaxRigRun

/// The nightly's judgement (regression, flake, known failure, fix), its exit status,
/// and the nights in the store.
@Suite struct NightTests {
    func record(_ tests: [(String, TestStatus)]) -> RunRecord {
        RunRecord(tests: tests.map { TestRecord(path: $0.0, status: $0.1, detail: "") }, metrics: [])
    }

    @Test func aNewFailureThatComesBackInMostRunsIsARegression() {
        let before = record([("w.shares", .pass), ("w.no-leak", .pass)])
        let tonight = record([("w.shares", .fail), ("w.no-leak", .pass)])
        let findings = NightVerdict.findings(cell: "k", spec: "s", tonight: tonight, baseline: before,
                                             reruns: [record([("w.shares", .fail)]), record([("w.shares", .pass)])])
        #expect(findings == [NightFinding(cell: "k", spec: "s", test: "w.shares", before: .pass, after: .fail, kind: .regression, failedRuns: 2, runs: 3)])
        #expect(NightVerdict(night: 2, matrix: "m", baseline: 1, cells: [], findings: findings).exitStatus == .failed)
    }

    /// A MISS after a MISS (a kernel that still does not build) is known, not new; a
    /// FAIL after a MISS was never seen failing, so it is new and re-run.
    @Test func aMissAfterAMissIsStillFailingAndAFailAfterAMissIsNew() {
        #expect(NightVerdict.newFailures(record([("s", .miss)]), baseline: record([("s", .miss)])).isEmpty)
        #expect(NightVerdict.findings(cell: "k", spec: "s", tonight: record([("s", .miss)]), baseline: record([("s", .miss)]), reruns: [])
            .map(\.kind) == [.stillFailing])
        #expect(NightVerdict.newFailures(record([("w.shares", .fail)]), baseline: record([("w", .miss)])) == ["w.shares"])
    }

    /// Which cells of the night before did not build: read from its verdict's cells
    /// alone (a finding kind this daxrig does not know is no obstacle); a cell the host
    /// failed (ERROR) is not one, so a kernel that stops building after it is new; a
    /// verdict that cannot be read is said, and counts as none.
    @Test func theCellsThatDidNotBuildTheNightBeforeComeFromItsVerdict() {
        func night(_ summary: String?) -> StoredNight {
            var night = try! JSONDecoder().decode(StoredNight.self, from: Data(#"{"id": 7, "started": "", "state": "complete", "matrix": "m", "matrixPath": ""}"#.utf8))
            night.summary = summary
            return night
        }
        let summary = """
            {"night": 7, "matrix": "m", "cells": [
              {"cell": "broken", "spec": "s", "status": "MISS", "reruns": [], "changes": [], "error": "did not build"},
              {"cell": "host", "spec": "s", "status": "ERROR", "reruns": [], "changes": []},
              {"cell": "good", "spec": "s", "status": "PASS", "run": 3, "reruns": [], "changes": []}],
             "findings": [{"kind": "a-kind-of-tomorrow"}], "exitStatus": 3}
            """
        var warnings: [String] = []
        #expect(NightlyRunner.missedCells(of: night(summary)) { warnings.append($0) } == [MissedCell(cell: "broken", spec: "s")])
        #expect(NightlyRunner.missedCells(of: night("{not json")) { warnings.append($0) }.isEmpty)
        #expect(NightlyRunner.missedCells(of: night(nil)) { warnings.append($0) }.isEmpty)
        #expect(warnings.count == 1 && warnings[0].contains("night 7's verdict cannot be read"), "\(warnings)")
    }

    @Test func aNewFailureThatGoesAwayInMostReRunsIsAFlake() {
        let tonight = record([("w.shares", .fail)])
        let findings = NightVerdict.findings(cell: "k", spec: "s", tonight: tonight, baseline: record([("w.shares", .pass)]),
                                             reruns: [record([("w.shares", .pass)]), record([("w.shares", .pass)])])
        #expect(findings.map(\.kind) == [.flaky])
        #expect(findings.first?.failureRate == 1.0 / 3)
        #expect(NightVerdict(night: 2, matrix: "m", baseline: 1, cells: [], findings: findings).exitStatus == .passed)
    }

    @Test func aFailureOfTheNightBeforeIsKnownAndNotReRun() {
        let before = record([("w.shares", .fail), ("w.private", .fail)])
        let tonight = record([("w.shares", .fail), ("w.private", .pass)])
        #expect(NightVerdict.newFailures(tonight, baseline: before).isEmpty)
        let findings = NightVerdict.findings(cell: "k", spec: "s", tonight: tonight, baseline: before, reruns: [])
        #expect(findings.map(\.kind) == [.stillFailing, .fixed])
        #expect(NightVerdict(night: 2, matrix: "m", baseline: 1, cells: [], findings: findings).exitStatus == .failed)
    }

    /// A workload that gave no report is one line ("w"); it covers its subtests in the
    /// other night ("w.shares"), and a re-run missing the subtest did not clear it.
    @Test func aWorkloadWithoutReportCoversItsSubtests() {
        #expect(NightVerdict.status(of: "w.shares", in: record([("w", .miss)])) == .miss)
        let findings = NightVerdict.findings(cell: "k", spec: "s", tonight: record([("w.shares", .fail)]), baseline: nil,
                                             reruns: [record([("other.shares", .pass)])])
        #expect(findings.map(\.kind) == [.regression])
        #expect(findings.first?.failedRuns == 2)
    }

    @Test func onlyTheRigFailingExitsThreeAndReproducedErrorsToo() {
        let error = NightVerdict.findings(cell: "k", spec: "s", tonight: record([("w", .error)]), baseline: record([("w.shares", .pass)]),
                                          reruns: [record([("w", .error)])])
        #expect(error.map(\.kind) == [.regression])
        #expect(NightVerdict(night: 2, matrix: "m", baseline: 1, cells: [], findings: error).exitStatus == .infrastructure)
        let noRun = NightCell(cell: "k", spec: "s", status: .miss, run: nil, baselineRun: nil, reruns: [], changes: [], error: "did not build")
        #expect(NightVerdict(night: 1, matrix: "m", baseline: nil, cells: [noRun], findings: []).exitStatus == .infrastructure)
    }

    @Test func exitStatusOfStatusesPutsFailuresFirst() {
        #expect(DaxRigSupport.ExitStatus.of([TestStatus.pass, .done, .skip]) == .passed)
        #expect(DaxRigSupport.ExitStatus.of([TestStatus.pass, .miss]) == .infrastructure)
        #expect(DaxRigSupport.ExitStatus.of([TestStatus.error, .fail, .miss]) == .failed)
    }

    func store() throws -> (ResultStore, URL) {
        let directory = try Fixtures.temporaryDirectory()
        return (try ResultStore(path: directory.appendingPathComponent("results.sqlite").path), directory)
    }

    func inputs(night: Int64?, cell: String, rerunOf: Int64? = nil) -> RunInputs {
        var inputs = RunInputs(command: "daxrig nightly", spec: "default", specText: nil, kernelPath: "/k/\(cell)/bzImage", kernelKey: cell,
                               kernelRelease: "6.1.192", source: nil, patchSeries: nil, patchesHash: nil, configHash: nil, host: "h",
                               qemuVersion: nil, libvirtVersion: nil, accelerator: "tcg")
        (inputs.night, inputs.cell, inputs.rerunOf) = (night, cell, rerunOf)
        return inputs
    }

    /// The baseline is the last complete night of the same matrix; a night killed
    /// halfway (incomplete) never is; the history holds first runs only.
    @Test func nightsInTheStore() throws {
        let (store, directory) = try store()
        defer { try? FileManager.default.removeItem(at: directory) }
        func night(_ matrix: String, pmdPages: Double, complete: Bool) throws -> Int64 {
            let night = try store.beginNight(matrix: matrix, path: "/m.toml", matrixHash: "h")
            let run = try store.begin(inputs(night: night, cell: "unpatched"))
            let metrics = [MetricRecord(test: "w", name: "pmd_pages", value: pmdPages, unit: "pages")]
            try store.finish(run, record: RunRecord(tests: [], metrics: metrics), artifacts: [], seconds: 1)
            let rerun = try store.begin(inputs(night: night, cell: "unpatched", rerunOf: run))
            try store.finish(rerun, record: RunRecord(tests: [], metrics: metrics.map { var m = $0; m.value += 100; return m }), artifacts: [], seconds: 1)
            if complete { try store.finishNight(night, baseline: nil, exitStatus: .passed, summary: Data("{}".utf8)) }
            return night
        }
        let first = try night("small", pmdPages: 10, complete: true)
        _ = try night("other", pmdPages: 5, complete: true)
        let killed = try night("small", pmdPages: 11, complete: false)
        let tonight = try night("small", pmdPages: 12, complete: false)
        #expect(try store.lastCompleteNight(matrix: "small", before: tonight)?.id == first)
        #expect(try store.night(killed)?.state == .incomplete)
        #expect(try store.runs(night: tonight).map(\.rerunOf).map { $0 != nil } == [false, true])
        #expect(try store.runs(night: tonight).first?.cell == "unpatched")
        #expect(try store.history(metric: "pmd_pages", matrix: "small", including: tonight).map(\.value) == [10, 12])
        #expect(try store.history(metric: "pmd_pages", matrix: "small").map(\.night) == [first])
    }

    /// A night's reports hold every run: a JUnit testsuite each, one KCIDB build per kernel.
    @Test func reportsOfSeveralRuns() throws {
        let (store, directory) = try store()
        defer { try? FileManager.default.removeItem(at: directory) }
        var reports: [StoredRunReport] = []
        for (cell, status) in [("unpatched", TestStatus.pass), ("unpatched", .pass), ("patched", .fail)] {
            let id = try store.begin(inputs(night: nil, cell: cell))
            try store.finish(id, record: record([("w.shares", status)]), artifacts: [], seconds: 1)
            reports.append(try store.report(id))
        }
        let xml = JUnitReport.render(reports)
        #expect(xml.components(separatedBy: "<testsuite ").count == 4)
        #expect(xml.contains(#"<testsuites name="daxrig" tests="3" failures="1""#))
        #expect(xml.contains(#"name="daxrig.patched.default""#))
        let kcidb = KCIDBReport.render(reports)
        #expect((kcidb["builds"] as? [[String: Any]])?.count == 2)
        #expect((kcidb["tests"] as? [[String: Any]])?.count == 3)
    }
}
