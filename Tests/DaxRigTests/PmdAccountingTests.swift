import DaxRigProtocol
import Testing

@Suite struct PmdAccountingTests {
    let kib: UInt64 = 1024
    let gib: UInt64 = 1 << 30

    /// FS/DAX on xfs, unpatched 6.1, 50 workers each mapping 1 GiB at a 1 GiB address in a
    /// fresh 512 GiB slot: each worker's VmPTE grows 8 KB (PUD + PMD table), the global
    /// counter one PMD page per worker (PUD pages are not in it).
    @Test func unsharedXfsMappingCostsOnePMDPagePerProcessAndNoFallback() {
        let base: UInt64 = 30_000 * kib
        let run = PmdAccounting(processes: 50, mappingBytes: gib, preFork: base, control: base + 1500 * kib,
                                mapped: base + 1500 * kib + 50 * 4 * kib, final: base,
                                vmPTEDeltas: Array(repeating: 8 * kib, count: 50), faults: Array(repeating: 512, count: 50))
        #expect(run.pudRanges == 1)
        #expect(run.expectedUnsharedPMDPages == 50)
        #expect(run.fallbackPages == Array(repeating: 0, count: 50))
        #expect(run.measuredPMDPages == 50)
        #expect(run.sharingRatio == 1)
        #expect(run.leakBytes == 0)
        #expect(run.firstWorkerFaults == 512)
        #expect(run.laterWorkersMedianFaults == 512)
    }

    /// hugetlbfs, the control: one PMD table for all; later workers take one fault.
    @Test func sharedMappingCostsAboutOnePMDPageForAll() {
        let base: UInt64 = 30_000 * kib
        let run = PmdAccounting(processes: 50, mappingBytes: gib, preFork: base, control: base + 1500 * kib,
                                mapped: base + 1500 * kib + 4 * kib, final: base,
                                vmPTEDeltas: Array(repeating: 8 * kib, count: 50), faults: [512] + Array(repeating: 1, count: 49))
        #expect(run.measuredPMDPages == 1)
        #expect(run.sharingRatio == 50)
        #expect(run.laterWorkersMedianFaults == 1)
    }

    /// Regions that fell back to PTEs cost a PTE table page each, in VmPTE and globally;
    /// they are counted out of the PMD figure.
    @Test func pteFallbacksAreCountedApart() {
        let run = PmdAccounting(processes: 2, mappingBytes: 2 * gib, preFork: 0, control: 0,
                                mapped: (2 * 2 + 3 + 1) * 4 * kib, final: 4 * kib,
                                vmPTEDeltas: [(1 + 2 + 3) * 4 * kib, (1 + 2 + 1) * 4 * kib], faults: [1024, 1024])
        #expect(run.pudRanges == 2)
        #expect(run.fallbackPages == [3, 1])
        #expect(run.measuredPMDPages == 4)
        #expect(run.leakBytes == 4096)
    }

    @Test func partialGiBRoundsUpToAWholePUDRange() {
        let run = PmdAccounting(processes: 10, mappingBytes: gib + 2 << 20, preFork: 0, control: 0, mapped: 0, final: 0,
                                vmPTEDeltas: [], faults: [])
        #expect(run.pudRanges == 2)
        #expect(run.expectedUnsharedPMDPages == 20)
        #expect(run.laterWorkersMedianFaults == nil)
    }
}

@Suite struct UnalignedAccountingTests {
    /// A 1 GiB mapping 2 MiB past a 1 GiB boundary touches two PUD ranges: two PMD
    /// tables and the fresh PUD table per process, no fallback (measured on 6.1: 12 KiB
    /// of VmPTE per worker).
    @Test func unalignedGigabyteTouchesTwoPUDRanges() {
        let run = PmdAccounting(processes: 4, mappingBytes: 1 << 30, preFork: 0, control: 100 * 4096, mapped: 108 * 4096, final: 0,
                                vmPTEDeltas: Array(repeating: 3 * 4096, count: 4), faults: [512, 512, 512, 512], offsetInPUD: 2 << 20)
        #expect(run.pudRanges == 2)
        #expect(run.expectedUnsharedPMDPages == 8)
        #expect(run.fallbackPages == [0, 0, 0, 0])
        #expect(run.measuredPMDPages == 8)
        let aligned = PmdAccounting(processes: 1, mappingBytes: 1 << 30, preFork: 0, control: 0, mapped: 0, final: 0, vmPTEDeltas: [], faults: [],
                                    offsetInPUD: 1 << 30)
        #expect(aligned.pudRanges == 1)
    }
}
