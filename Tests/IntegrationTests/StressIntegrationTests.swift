import DaxRig
import DaxRigProtocol
import Foundation
import Testing
import DaxRigSupport
import DaxRigResults

/// A short stress soak, for real, through the CLI on the default (unpatched 6.1) kernel.
@Suite(.serialized, .timed) struct StressIntegrationTests {
    /// Four sharers and one mutator per op for 5 s on xfs: every op runs, nothing is lost
    /// or leaked, the log stays clean, and without a sharing patch the tables are private.
    /// The run is recorded in a store of its own, as any run.
    @Test func aShortSoakOfEveryOpLosesNothingOnTheDefaultKernel() throws {
        let kernel = try Rig.defaultKernel()
        let directory = try Rig.scratch("stress")
        defer { try? FileManager.default.removeItem(at: directory) }
        let specPath = directory.appendingPathComponent("short.toml").path
        let storePath = directory.appendingPathComponent("results.sqlite").path
        try """
            [[stress]]
            name = "short"
            backing = "fsdax-xfs"
            sharers = 4
            soak = 5
            expect = ["data-intact", "no-leak", "kernel-log-clean", "private"]
            """.write(toFile: specPath, atomically: true, encoding: .utf8)
        let output = try Rig.run(["run", "--spec", specPath, "--json", "--store", storePath])
        #expect(output.status == 0, "\(output.standardError.suffix(3000))")
        let report = try JSONDecoder().decode(SpecReport.self, from: Data(output.standardOutput.utf8))
        #expect(report.passed && report.complete)
        let row = try #require(report.stress.first)
        let processCount = 4 + StressSpec.defaultOps.count
        #expect(row.name == "short" && row.processes == processCount)
        for verdict in row.verdicts { #expect(verdict.passed, "\(verdict.expectation.rawValue): \(verdict.detail)") }
        #expect(row.verdicts.map(\.expectation) == [.dataIntact, .noLeak, .kernelLogClean, .private])
        #expect(row.mismatches == 0 && row.failedCalls == 0)
        #expect(row.mapping?.pmdPagesMeasured == Int64(processCount))
        #expect((row.soakSeconds ?? 0) >= 5)

        // madvise(2) exists only with CONFIG_ADVISE_SYSCALLS, which tinyconfig leaves out:
        // there the op must say so instead of passing for a run.
        let hasMadvise = try Files.read(kernel.config).contains("CONFIG_ADVISE_SYSCALLS=y")
        let processes = try #require(row.processDetails)
        #expect(processes.filter { $0.op == nil }.count == 4)
        for process in processes {
            if process.op == .madvDontneed && !hasMadvise {
                #expect(process.iterations == 0 && process.unsupported?.contains("errno 38") == true, "\(process)")
            } else {
                #expect(process.iterations >= 1 && process.unsupported == nil, "\(process.role): \(process)")
            }
            #expect(process.wordsVerified > 0, "\(process.role)")
        }
        print("stress iterations in 5 s: \(row.iterationList); \(row.wordsVerified ?? 0) words checked")

        let store = try ResultStore(path: storePath)
        let last = try #require(try store.lastComplete())
        let stored = try store.record(last.id)
        #expect(stored.tests.map(\.path) == ["short.data-intact", "short.no-leak", "short.kernel-log-clean", "short.private"])
        #expect(stored.tests.allSatisfy { $0.status == .pass })
        #expect(stored.metrics.contains { $0.test == "short" && $0.name == "iterations_munmap" && $0.value >= 1 })
    }
}
