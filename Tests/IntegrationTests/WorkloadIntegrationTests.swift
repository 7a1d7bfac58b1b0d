import DaxRig
import DaxRigProtocol
import Foundation
import Testing
import DaxRigImage
import DaxRigRun
import DaxRigMachine

/// Real workloads in a guest of the default (unpatched 6.1) kernel.
@Suite(.serialized, .timed) struct WorkloadIntegrationTests {
    @Test func hugetlbfsSharesFsdaxDoesNotAndSharesOnFsdaxFailsWithTheNumbers() throws {
        let kernel = try Rig.defaultKernel()
        let image = try ImageBuilder(cache: Rig.cache).build()
        let gib: UInt64 = 1 << 30
        let cases = [
            WorkloadCase(spec: WorkloadSpec(name: "huge", backing: .hugetlbfs, processes: 10, mappingBytes: gib),
                         expectations: [.shares, .noLeak, .dataIntact, .kernelLogClean]),
            WorkloadCase(spec: WorkloadSpec(name: "dax-private", backing: .fsdaxXfs, processes: 10, mappingBytes: gib),
                         expectations: [.private, .noFallback, .noLeak, .dataIntact, .kernelLogClean]),
            // What the FS/DAX sharing patch must make true; unpatched, it must fail.
            WorkloadCase(spec: WorkloadSpec(name: "dax-shares", backing: .fsdaxXfs, processes: 10, mappingBytes: gib),
                         expectations: [.shares]),
        ]
        let results = try WorkloadRunner(runner: GuestRunner(cache: Rig.cache)).run(cases, kernel: kernel.bzImage, image: image, timeout: 300) { _, _ in }
        #expect(results.count == 3)
        let huge = try #require(results[0].report)
        #expect(results[0].passed, "\(results[0].verdicts)")
        #expect(huge.accounting.measuredPMDPages <= 1 + Judge.sharingTolerance)
        #expect(huge.accounting.laterWorkersMedianFaults.map { $0 <= 2 } == true)
        #expect(huge.accounting.firstWorkerFaults == 512)
        // Where the guest's time went: every stretch, in order, adding up to the whole.
        for report in results.compactMap(\.report) {
            let phases = try #require(report.phases)
            #expect(phases.map(\.name) == ["file", "fork", "first", "fault", "work", "exit"])
            let sum = phases.map(\.seconds).reduce(0, +)
            #expect(phases.allSatisfy { $0.seconds >= 0 } && sum <= report.seconds && sum >= report.seconds * 0.95,
                    "phases \(phases) against \(report.seconds) s")
        }
        // Worker 0 alone faults the huge pages in, zeroing 1 GiB; the others find them.
        #expect(huge.phases.map { $0[2].seconds > $0[3].seconds } == true, "\(String(describing: huge.phases))")

        #expect(results[1].passed, "\(results[1].verdicts)")
        #expect(results[1].report?.accounting.measuredPMDPages == 10)

        let shares = try #require(results[2].verdicts.first)
        #expect(!shares.passed)
        #expect(shares.detail.hasPrefix("10 PMD table pages measured for 10 processes; shared means <= 3"))
        #expect(!results[2].passed)
    }

    /// Two independent counts of PTE fallback on ext4 agree: the file's extents (FIEMAP:
    /// 2 MiB regions not in one aligned extent) times N, and the workers' VmPTE growth.
    @Test func ext4FallbacksAreTheRegionsItsExtentsCouldNotAlign() throws {
        let kernel = try Rig.defaultKernel()
        let image = try ImageBuilder(cache: Rig.cache).build()
        let cases = [
            WorkloadCase(spec: WorkloadSpec(name: "ext4", backing: .fsdaxExt4, processes: 4, mappingBytes: 1 << 30), expectations: [.private]),
            WorkloadCase(spec: WorkloadSpec(name: "xfs", backing: .fsdaxXfs, processes: 4, mappingBytes: 1 << 30), expectations: [.noFallback]),
        ]
        let results = try WorkloadRunner(runner: GuestRunner(cache: Rig.cache)).run(cases, kernel: kernel.bzImage, image: image, timeout: 300) { _, _ in }
        let ext4 = try #require(results.first { $0.workload.spec.name == "ext4" }?.report)
        let aligned = try #require(ext4.alignedRegions)
        #expect(aligned < 512, "ext4 aligned every region this time; the cross-check needs some that it did not")
        #expect(ext4.accounting.fallbackPages == Array(repeating: 512 - aligned, count: 4))
        #expect(ext4.notes.contains { $0.contains("ext4 could align \(aligned) of 512 2 MiB regions") })
        let xfs = try #require(results.first { $0.workload.spec.name == "xfs" }?.report)
        #expect(xfs.alignedRegions == 512)
        #expect(results.allSatisfy { $0.passed }, "\(results.map(\.verdicts))")
    }

    /// daxrig sizes a guest from a budget per worker (WorkloadRunner.memoryMiB). A worker
    /// that costs more than its budget has the OOM killer end a large run, and the boot
    /// crawls on to its timeout: on 2026-12-05, N = 10,000 x 1 GiB on xfs in a guest sized
    /// 3072 MiB (256 KiB a worker) OOM-killed workers for half an hour, each report 10,000
    /// lines on the console. Measured here: the guest memory (MemTotal - MemAvailable, all
    /// mapped) N workers add, per worker, against what daxrig budgets for one more, with
    /// room for the kernel's watermarks and what a worker allocates after the snapshot.
    @Test func aWorkerCostsTheGuestLessThanDaxrigBudgetsForIt() throws {
        let kernel = try Rig.defaultKernel()
        let image = try ImageBuilder(cache: Rig.cache).build()
        let (few, many) = (1, 401)
        let cases = [few, many].map { n in
            WorkloadCase(spec: WorkloadSpec(name: "xfs-n\(n)", backing: .fsdaxXfs, processes: n, mappingBytes: 1 << 30),
                         expectations: [.dataIntact])
        }
        let results = try WorkloadRunner(runner: GuestRunner(cache: Rig.cache)).run(cases, kernel: kernel.bzImage, image: image, timeout: 600) { _, _ in }
        let used = try results.map { try #require($0.report?.memUsedMapped) }
        #expect(results.allSatisfy { $0.passed }, "\(results.map(\.verdicts))")
        let perWorker = Double(Int64(used[1]) - Int64(used[0])) / Double(many - few)
        let budget = Double(WorkloadRunner.memoryMiB(for: [cases[0]].map { c in
            var c = c; c.spec.processes = 10_001; return c
        }) - WorkloadRunner.memoryMiB(for: [cases[0]])) * 1_048_576 / 10_000
        print("guest memory per worker: \(Int(perWorker / 1024)) KiB measured, \(Int(budget / 1024)) KiB budgeted")
        #expect(perWorker * 1.25 <= budget, "a worker costs \(Int(perWorker / 1024)) KiB of guest memory; daxrig budgets \(Int(budget / 1024)) KiB")
    }

    @Test func workloadThatCannotFitIsRefusedBeforeAnyBootNamingTheNumbers() throws {
        _ = try Rig.defaultKernel()
        let output = try Rig.run(["run", "--processes", "10", "--backings", "hugetlbfs", "--size", "512G"])
        #expect(output.status == 2)
        #expect(output.standardError.contains("workload hugetlbfs-n10 does not fit: its guest memory needs 512.6 GiB"))
        #expect(!output.standardError.contains("[boot]"))
    }
}
