import DaxRig
import DaxRigProtocol
import Foundation
import Testing
import DaxRigImage
import DaxRigRun
import DaxRigMachine

/// A kernel with kernels/configs/tracing.config counts dax_pmd_fault_done by result,
/// and those counts agree with the file's extents and the workers' VmPTE growth. The
/// kernel is the one the option-off check boots (Rig.tracedOptionOffKernel: the v2
/// tree without CONFIG_FSDAX_PMD_SHARE, which that check shows faults as 6.1 does),
/// so tracing costs no build of its own.
@Suite(.serialized, .timed) struct TracingIntegrationTests {
    @Test func tracedKernelCountsPmdFaultsAndTheyMatchExtentsAndVmPTE() throws {
        let kernel = try Rig.tracedOptionOffKernel()
        let image = try ImageBuilder(cache: Rig.cache).build()
        let n = 4
        let cases = [
            WorkloadCase(spec: WorkloadSpec(name: "xfs", backing: .fsdaxXfs, processes: n, mappingBytes: 1 << 30), expectations: [.noFallback, .kernelLogClean]),
            WorkloadCase(spec: WorkloadSpec(name: "xfs-sync", backing: .fsdaxXfs, processes: n, mappingBytes: 1 << 30, mapSync: true),
                         expectations: [.noFallback]),
            WorkloadCase(spec: WorkloadSpec(name: "ext4", backing: .fsdaxExt4, processes: n, mappingBytes: 1 << 30), expectations: [.noFallback]),
        ]
        let results = try WorkloadRunner(runner: GuestRunner(cache: Rig.cache)).run(cases, kernel: kernel.bzImage, image: image, timeout: 300) { _, _ in }
        func report(_ name: String) throws -> WorkloadReport { try #require(results.first { $0.workload.spec.name == name }?.report) }

        // One PMD fault per 2 MiB region per process, each mapping its PMD.
        let onePerRegion = PmdFaultCounts(noPage: UInt64(n * 512), fallback: 0, other: 0)
        let xfs = try #require(try report("xfs").pmdFaults)
        #expect(xfs == onePerRegion, "\(xfs)")
        #expect(results[0].passed, "\(results[0].verdicts)")
        // The counts and the run's notes in the message: the one failure on record
        // (a warm rehearsal, 2026-12-04, MAP_SYNC) printed neither, so nobody can say
        // which result the extra or missing faults had.
        let sync = try report("xfs-sync")
        #expect(sync.pmdFaults == onePerRegion,
                "\(String(describing: sync.pmdFaults)); \(sync.accounting); workers: \(sync.workers.map(\.ending)); \(sync.notes)")

        // ext4: the tracepoint's FALLBACKs, the extents' unaligned regions and the
        // VmPTE-derived fallback pages are one number, three ways.
        let ext4 = try report("ext4")
        let traced = try #require(ext4.pmdFaults)
        let unaligned = 512 - (try #require(ext4.alignedRegions))
        #expect(traced.fallback == UInt64(n) * unaligned)
        #expect(traced.noPage == UInt64(n) * (512 - unaligned))
        #expect(ext4.accounting.fallbackPages.reduce(0, +) == UInt64(n) * unaligned)
        let verdict = try #require(results.first { $0.workload.spec.name == "ext4" }?.verdicts.first)
        #expect(verdict.passed == (unaligned == 0))
        #expect(verdict.detail.contains("dax_pmd_fault_done: \(traced.noPage) NOPAGE, \(traced.fallback) FALLBACK"))
    }
}
