import DaxRigProtocol
import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigMachine
@testable import DaxRigResults
@testable import DaxRigRun
@testable import DaxRigImage
import DaxRigSupport
import DaxRigMachine

/// Verdicts on figures recorded by `daxrig run` on unpatched 6.1 (N = 10, S = 1 GiB).
@Suite struct JudgeTests {
    func report(_ backing: WorkloadSpec.Backing, control: UInt64 = 600_000, mappedPages: UInt64, vmPTEDelta: UInt64 = 8192,
                faults: [UInt64], mismatches: UInt64 = 0, final: UInt64 = 500_000) -> WorkloadReport {
        Fixtures.workloadReport(spec: WorkloadSpec(name: "t", backing: backing, processes: faults.count, mappingBytes: 1 << 30), control: control,
                                mappedPages: mappedPages, vmPTEDelta: vmPTEDelta, faults: faults, mismatches: mismatches, final: final)
    }

    @Test func hugetlbfsSharesAndFsdaxIsPrivate() {
        let huge = report(.hugetlbfs, mappedPages: 1, faults: [512] + Array(repeating: 1, count: 9))
        let dax = report(.fsdaxXfs, mappedPages: 10, faults: Array(repeating: 512, count: 10))
        #expect(Judge.judge(.shares, report: huge, findings: []).passed)
        #expect(!Judge.judge(.private, report: huge, findings: []).passed)
        #expect(Judge.judge(.private, report: dax, findings: []).passed)
        let shares = Judge.judge(.shares, report: dax, findings: [])
        #expect(!shares.passed)
        #expect(shares.detail == "10 PMD table pages measured for 10 processes; shared means <= 3 (unshared would be 10)")
    }

    /// At N = 3 the tolerance alone would let 3 private pages pass as shared, and 1
    /// shared page pass as private; neither may.
    @Test func smallNStillTellsSharedFromPrivate() {
        let dax = report(.fsdaxXfs, mappedPages: 3, faults: [512, 512, 512])
        let huge = report(.hugetlbfs, mappedPages: 1, faults: [512, 1, 1])
        #expect(!Judge.judge(.shares, report: dax, findings: []).passed)
        #expect(Judge.judge(.private, report: dax, findings: []).passed)
        #expect(Judge.judge(.shares, report: huge, findings: []).passed)
        #expect(!Judge.judge(.private, report: huge, findings: []).passed)
        let one = report(.fsdaxXfs, mappedPages: 1, faults: [512])
        #expect(Judge.judge(.shares, report: one, findings: []).passed && Judge.judge(.private, report: one, findings: []).passed)
    }

    @Test func fallbacksLeaksDataAndTheLogAreJudgedOnTheirOwnNumbers() {
        let fellBack = report(.fsdaxExt4, mappedPages: 10 + 240, vmPTEDelta: 8192 + 24 * 4096, faults: Array(repeating: 512, count: 10))
        let fallback = Judge.judge(.noFallback, report: fellBack, findings: [])
        #expect(!fallback.passed)
        #expect(fallback.detail.hasPrefix("240 PTE fallback pages"))
        #expect(Judge.judge(.private, report: fellBack, findings: []).passed)

        #expect(!Judge.judge(.noLeak, report: report(.fsdaxXfs, mappedPages: 10, faults: [512], final: 500_000 + 8 * 4096), findings: []).passed)
        #expect(Judge.judge(.noLeak, report: report(.fsdaxXfs, mappedPages: 10, faults: [512]), findings: []).passed)
        #expect(!Judge.judge(.dataIntact, report: report(.fsdaxXfs, mappedPages: 10, faults: [512, 512], mismatches: 3), findings: []).passed)
        let warning = ConsoleFinding(kind: .warning, line: 7, excerpt: "WARNING: x")
        let log = Judge.judge(.kernelLogClean, report: report(.fsdaxXfs, mappedPages: 1, faults: [512]), findings: [warning])
        #expect(!log.passed)
        #expect(log.detail == "1 warning (first at console line 7: WARNING: x)")
    }

    /// A data-intact FAIL names how the first worker that failed ended: a signal (a
    /// SIGBUS from a fault the kernel refused) is a different bug from a wrong word.
    @Test func dataIntactNamesTheFirstWorkerThatDidNotExitCleanly() {
        var killed = report(.fsdaxXfs, mappedPages: 10, faults: [512, 512, 512])
        killed.workers[1].exitStatus = 128 + SIGBUS
        killed.workers[1].fatalSignal = FatalSignal(signal: SIGBUS, code: 2, address: 1 << 40, barriersPassed: 1)
        killed.workers[2].exitStatus = 1
        let verdict = Judge.judge(.dataIntact, report: killed, findings: [])
        #expect(!verdict.passed)
        #expect(verdict.detail.contains("2 workers exited non-zero (first: worker 1 killed by signal \(SIGBUS), BUS_ADRERR at 0x10000000000, after 1 barrier)"), "\(verdict.detail)")
        var failed = report(.fsdaxXfs, mappedPages: 10, faults: [512, 512])
        failed.workers[0].exitStatus = 1
        #expect(Judge.judge(.dataIntact, report: failed, findings: []).detail.contains("1 workers exited non-zero (first: worker 0 exit status 1)"))
    }

    /// No page tables measured (a dead worker's freed tables outweighed the others' new
    /// ones) makes the sharing ratio infinite, and JSON has no infinity: `--json` printed
    /// nothing and exited 1 instead of the results (seen with DAXRIG_INJECT_SIGBUS).
    @Test func resultsWithNoPMDPagesMeasuredStillEncodeAsJSON() throws {
        let none = report(.fsdaxXfs, mappedPages: 0, faults: [512, 512])
        #expect(!none.accounting.sharingRatio.isFinite)
        let result = WorkloadResult(workload: WorkloadCase(spec: none.spec, expectations: [.private]), report: none,
                                    verdicts: [Judge.judge(.private, report: none, findings: [])], error: nil)
        let row = ResultRow(result)
        #expect(row.sharingRatio == nil)
        let json = try JSONEncoder().encode(row)
        #expect(try JSONDecoder().decode(ResultRow.self, from: json).pmdPagesMeasured == 0)
        let table = ResultTable.render(SpecResults(spec: TestSpec.builtIn, workloads: [result], persistence: []))
        // The row's only "-" cell is the sharing ratio: its faults read 512/512, its leak 0 B.
        let line = try #require(table.split(separator: "\n").first { $0.hasPrefix("t ") })
        #expect(line.contains(" - ") && !line.contains("inf"), "\(table)")
    }

    /// A count that misses workers says nothing about sharing, whichever way it errs:
    /// a dead worker's freed tables can make private look shared, and a run whose every
    /// mmap failed measured 0 pages, which passed `shares`.
    @Test func sharesAndPrivateFailWhenTheCountMissesWorkers() {
        var unmapped = report(.hugetlbfs, mappedPages: 0, faults: [0, 0, 0])
        for index in unmapped.workers.indices { unmapped.workers[index].mapErrno = 12 }
        let shares = Judge.judge(.shares, report: unmapped, findings: [])
        #expect(!shares.passed)
        #expect(shares.detail.hasSuffix("; not a measure of sharing: 3 workers failed to map (first: worker 0)"), "\(shares.detail)")

        var dead = report(.hugetlbfs, mappedPages: 1, faults: [512, 1, 1])
        dead.workers[2].exitStatus = 128 + SIGBUS
        dead.workers[2].fatalSignal = FatalSignal(signal: SIGBUS, code: 2, address: 1 << 40, barriersPassed: 1)
        #expect(!Judge.judge(.shares, report: dead, findings: []).passed)
        // Killed after the mapped snapshot: the count stands, and the death is data-intact's.
        dead.workers[2].fatalSignal?.barriersPassed = 2
        #expect(Judge.judge(.shares, report: dead, findings: []).passed)
        // Killed where no handler saw it (SIGKILL): judged, and named.
        dead.workers[2].fatalSignal = nil
        let unseen = Judge.judge(.shares, report: dead, findings: [])
        #expect(unseen.passed && unseen.detail.hasSuffix("; 1 worker killed by a signal at an unknown point (first: worker 2)"), "\(unseen.detail)")
        // Nothing to say about a clean run.
        #expect(!Judge.judge(.private, report: report(.fsdaxXfs, mappedPages: 10, faults: Array(repeating: 512, count: 10)), findings: []).detail.contains("worker"))
    }

    @Test func defaultSpecExpectsWhatUnpatched61Does() {
        let cases = TestSpec.builtIn.workloads
        #expect(cases.count == 12)
        #expect(cases.filter { $0.spec.backing == .hugetlbfs }.allSatisfy { $0.expectations.contains(.shares) })
        #expect(cases.filter { $0.spec.backing != .hugetlbfs }.allSatisfy { $0.expectations.contains(.private) })
        #expect(cases.allSatisfy { $0.expectations.contains(.dataIntact) && $0.expectations.contains(.kernelLogClean) && $0.expectations.contains(.noLeak) })
        #expect(Set(cases.map(\.spec.processes)) == [1, 10, 100, 1000])
        #expect(cases.allSatisfy { $0.spec.mappingBytes == 1 << 30 && $0.spec.pudAligned && $0.spec.access == .writePer2M })
    }

    @Test func persistenceIsIntactOnlyWhenEveryWordCameBack() {
        let spec = PersistenceSpec(name: "p", backing: .fsdaxXfs, bytes: 8 << 20, writers: 2, sync: .mapSync)
        let written = PersistenceReport(spec: spec, phase: .write, bytes: 8 << 20, seconds: 1)
        let clean = PersistenceReport(spec: spec, phase: .verify, bytes: 8 << 20, seconds: 1)
        #expect(Judge.judge(.dataIntact, written: written, verified: clean, findings: []).passed)
        let lost = PersistenceReport(spec: spec, phase: .verify, bytes: 8 << 20, mismatchedWords: 262_144, firstMismatchOffset: 2 << 20, seconds: 1)
        let verdict = Judge.judge(.dataIntact, written: written, verified: lost, findings: [])
        #expect(!verdict.passed)
        #expect(verdict.detail == "8388608 bytes read back after the power-off, 262144 words wrong (first at offset 2097152), 0 of 2 writers failed")
        let failedWriter = PersistenceReport(spec: spec, phase: .write, bytes: 8 << 20, failedWriters: 1, seconds: 1, notes: ["writer 9 ended with status 2"])
        #expect(!Judge.judge(.dataIntact, written: failedWriter, verified: clean, findings: []).passed)
        let oops = ConsoleFinding(kind: .oops, line: 3, excerpt: "Oops: 0002 [#1]\nmore")
        #expect(Judge.judge(.kernelLogClean, written: written, verified: clean, findings: [oops]).detail == "1 oops (first at console line 3: Oops: 0002 [#1])")
        // What the guest noted (a rewriter's page faults: did it join?) is in the table
        // and in --json, not only in the report the host decoded.
        let noted = PersistenceReport(spec: spec, phase: .write, bytes: 8 << 20, seconds: 1, notes: ["page faults: writers 266, 266; rewriters (at file offset 0) 11, 267"])
        let result = PersistenceResult(check: PersistenceCase(spec: spec, expectations: [.dataIntact]), write: noted, verify: clean,
                                       verdicts: [Judge.judge(.dataIntact, written: noted, verified: clean, findings: [])], error: nil)
        #expect(PersistenceRow(result).notes == ["page faults: writers 266, 266; rewriters (at file offset 0) 11, 267"])
        #expect(ResultTable.render(SpecResults(spec: TestSpec(name: "p", workloads: []), workloads: [], persistence: [result], stress: []))
            .contains("note p: page faults: writers 266, 266; rewriters (at file offset 0) 11, 267"))
    }

    @Test func patternDiffersPerOffsetAndPerCheck() {
        let a = PersistenceSpec(name: "a", backing: .fsdaxXfs, bytes: 2 << 20)
        let b = PersistenceSpec(name: "b", backing: .fsdaxXfs, bytes: 2 << 20)
        #expect(a.pattern(offset: 0) != a.pattern(offset: 8))
        #expect(a.pattern(offset: 0) != b.pattern(offset: 0))
        #expect(a.pattern(offset: 4096) != 0)
    }

    @Test func guestMemoryGrowsWithHugePagesAndWorkers() {
        let small = WorkloadRunner.memoryMiB(for: [WorkloadCase(spec: WorkloadSpec(name: "a", backing: .fsdaxXfs, processes: 1, mappingBytes: 1 << 30), expectations: [])])
        let huge = WorkloadRunner.memoryMiB(for: [WorkloadCase(spec: WorkloadSpec(name: "b", backing: .hugetlbfs, processes: 1000, mappingBytes: 1 << 30), expectations: [])])
        #expect(small == 576)  // 512 MiB + a worker and its two PMD tables, in whole 64 MiB
        #expect(huge >= 512 + 1024 + 250)
    }

    /// A worker's PMD tables grow with what it maps: 1000 workers x 64 GiB each on a kernel
    /// that does not share hold 64,000 tables (250 MiB) beside what the workers cost.
    @Test func guestMemoryCoversEachWorkersPmdTables() {
        func memory(_ bytes: UInt64) -> Int {
            WorkloadRunner.memoryMiB(for: [WorkloadCase(spec: WorkloadSpec(name: "w", backing: .fsdaxXfs, processes: 1000, mappingBytes: bytes), expectations: [])])
        }
        #expect(memory(64 << 30) - memory(1 << 30) >= 63 * 1000 * 4 / 1024)
    }

    /// FS/DAX falls back to PTE tables where a region cannot take a PMD: ext4 leaves
    /// regions of a file unaligned, and a process whose file offset and address differ
    /// modulo 2 MiB maps every region with PTEs. 1000 x 1 GiB on ext4 alone was sized
    /// as on xfs (768 MiB) and the guest's OOM killer ended the workload.
    @Test func guestMemoryCoversFsdaxPteFallbacks() {
        let ptes = UInt64(1000) * ((1 << 30) / 512) >> 20  // MiB of PTE tables, every region
        func memory(_ backing: WorkloadSpec.Backing, offsets: [UInt64] = [0], shifts: [UInt64] = [0]) -> Int {
            var spec = WorkloadSpec(name: "w", backing: backing, processes: 1000, mappingBytes: 1 << 30)
            spec.geometry = MappingGeometry(fileOffsets: offsets, addressShifts: shifts)
            return WorkloadRunner.memoryMiB(for: [WorkloadCase(spec: spec, expectations: [])])
        }
        let xfs = memory(.fsdaxXfs)
        #expect(memory(.fsdaxExt4) >= xfs + Int(ptes))
        // Half the workers at a page's offset: half the PTE tables.
        #expect(memory(.fsdaxXfs, offsets: [0, 4096]) >= xfs + Int(ptes / 2))
        // Offset and address shifted alike stay PMD-mappable on xfs.
        #expect(memory(.fsdaxXfs, offsets: [0, 2 << 20], shifts: [0, 2 << 20]) == xfs)
        #expect(memory(.fsdaxXfs, offsets: [4096], shifts: [4096]) == xfs)
    }
}

@Suite struct WorkloadFitTests {
    let gib: UInt64 = 1 << 30

    func item(_ backing: WorkloadSpec.Backing, n: Int, size: UInt64) -> WorkloadCase {
        WorkloadCase(spec: WorkloadSpec(name: "w", backing: backing, processes: n, mappingBytes: size), expectations: [])
    }

    @Test func defaultRunFitsThisKindOfMachine() throws {
        try WorkloadRunner.check(TestSpec.builtIn.workloads, hostMemoryAvailable: 22 * gib, hostDiskAvailable: 50 * gib)
    }

    @Test func hugePagesBeyondTheHostAreRefusedWithTheNumbers() {
        do {
            try WorkloadRunner.check([item(.hugetlbfs, n: 10, size: 32 * gib)], hostMemoryAvailable: 22 * gib, hostDiskAvailable: 50 * gib)
            Issue.record("32 GiB of huge pages fit in 22 GiB")
        } catch {
            #expect("\(error)".contains("guest memory needs 32.6 GiB for 10 processes x 32 GiB on hugetlbfs"))
            #expect("\(error)".contains("this host has 22 GiB of memory available"))
        }
    }

    @Test func tmpfsPageTablesCountAndPmemNeedsDisk() {
        // 10,000 processes x 1 GiB on tmpfs: 2 MiB of PTE tables each, 19.5 GiB.
        #expect(throws: WorkloadError.self) {
            try WorkloadRunner.check([item(.tmpfs, n: 10_000, size: gib)], hostMemoryAvailable: 22 * gib, hostDiskAvailable: 50 * gib)
        }
        #expect(throws: WorkloadError.self) {
            try WorkloadRunner.check([item(.fsdaxXfs, n: 1, size: 100 * gib)], hostMemoryAvailable: 22 * gib, hostDiskAvailable: 50 * gib)
        }
        #expect(throws: WorkloadError.doesNotFit(workload: "w", what: "mapping size", need: "a multiple of 2 MiB", have: "1 MiB")) {
            try WorkloadRunner.check([item(.fsdaxXfs, n: 1, size: 1 << 20)], hostMemoryAvailable: 22 * gib, hostDiskAvailable: 50 * gib)
        }
    }

    /// A run measures its host once and every check of the run uses those figures: a
    /// runner pinned to a small host refuses a spec this machine could hold, before
    /// the store records anything and without measuring (the kernel does not exist).
    @Test func aRunChecksTheHostItWasPinnedToAndStoresNothingWhenTheSpecDoesNotFit() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let small = HostFacts(accelerator: .kvm, memoryAvailable: 2 * gib, diskAvailable: 50 * gib, libvirtVersion: "1.2.3", qemuVersion: "4.5.6")
        let runner = GuestRunner(cache: Cache(root: directory)).with(small)
        #expect(try runner.hostFacts(kernel: "/nonexistent/bzImage") { _, _ in } == small)
        let spec = TestSpec(name: "big", workloads: [item(.hugetlbfs, n: 4, size: gib)])
        let store = try ResultStore(path: directory.appendingPathComponent("results.sqlite").path)
        let image = try Fixtures.guestImage(in: directory)
        for recording in [nil, SpecRunner.Recording(store: store, command: "test", specText: nil)] {
            #expect(throws: WorkloadError.self) {
                _ = try SpecRunner(runner: runner).run(spec, kernel: "/nonexistent/bzImage", image: image, recording: recording) { _, _ in }
            }
        }
        #expect(try store.runs().isEmpty)
        // What a run stores about its host is what it measured, handed to the store.
        let inputs = RunInputs.gather(command: "c", spec: "s", specText: nil, kernelPath: "/nonexistent/bzImage",
                                      manifest: nil, accelerator: small.accelerator.rawValue, versions: (small.libvirtVersion, small.qemuVersion))
        #expect(inputs.libvirtVersion == "1.2.3" && inputs.qemuVersion == "4.5.6" && inputs.accelerator == "kvm")
    }
}
