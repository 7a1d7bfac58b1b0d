/// What one workload measured, and the page-table arithmetic on it. The traps this
/// arithmetic avoids are in DESIGN.md ("Measuring PMD sharing"): deltas, never
/// absolutes; counters refreshed (vm/stat_refresh) before each read; every worker
/// alive at each snapshot; PTE fallbacks counted apart, from per-process VmPTE.
public struct PmdAccounting: Sendable, Equatable, Codable {
    public static let pageSize: UInt64 = 4096
    public static let pmdSpan: UInt64 = 2 << 20
    public static let pudSpan: UInt64 = 1 << 30

    public var processes: Int
    public var mappingBytes: UInt64
    /// Global PageTables bytes: before forking, with every worker alive and nothing
    /// mapped (control), with everything mapped, and after every worker exited.
    public var preFork: UInt64
    public var control: UInt64
    public var mapped: UInt64
    public var final: UInt64
    /// Per worker, VmPTE after mapping and faulting minus before mapping.
    public var vmPTEDeltas: [UInt64]
    /// Per worker, minor faults taken during the fault phase.
    public var faults: [UInt64]
    /// Where in its 1 GiB (PUD) range the mapping starts: 0 when PUD-aligned.
    public var offsetInPUD: UInt64
    /// The mapping opens a 512 GiB slot nothing else uses, so each process allocates
    /// one PUD table for it (true at daxrig's map address, aligned or not).
    public var freshPUDTable: Bool
    /// Per worker, the PMD and PUD tables its own mappings need when the workload's
    /// geometry differs between workers (nil: every worker maps as `offsetInPUD` says).
    public var tablesPerWorker: [Tables]?

    /// The page tables one process's mappings need with PMDs only and nothing shared.
    public struct Tables: Sendable, Equatable, Codable {
        public var pmd: UInt64
        public var pud: UInt64
        public init(pmd: UInt64, pud: UInt64) {
            self.pmd = pmd
            self.pud = pud
        }
    }

    public init(processes: Int, mappingBytes: UInt64, preFork: UInt64, control: UInt64, mapped: UInt64, final: UInt64,
                vmPTEDeltas: [UInt64], faults: [UInt64], offsetInPUD: UInt64 = 0, freshPUDTable: Bool = true,
                tablesPerWorker: [Tables]? = nil) {
        self.tablesPerWorker = tablesPerWorker
        self.offsetInPUD = offsetInPUD % Self.pudSpan
        self.freshPUDTable = freshPUDTable
        self.processes = processes
        self.mappingBytes = mappingBytes
        self.preFork = preFork
        self.control = control
        self.mapped = mapped
        self.final = final
        self.vmPTEDeltas = vmPTEDeltas
        self.faults = faults
    }

    /// PUD ranges (1 GiB) the mapping touches; one PMD table page each, per process
    /// when unshared. An unaligned 1 GiB mapping touches two.
    /// With per-worker geometry, the most any one worker's mappings touch: one shared set.
    public var pudRanges: UInt64 {
        tablesPerWorker.map { $0.map(\.pmd).max() ?? 0 } ?? (offsetInPUD + mappingBytes + Self.pudSpan - 1) / Self.pudSpan
    }

    /// PMD table pages the workload would cost with no sharing: N x ceil(S / 1 GiB), or
    /// the sum of each worker's own with per-worker geometry.
    public var expectedUnsharedPMDPages: UInt64 {
        tablesPerWorker.map { $0.reduce(0) { $0 + $1.pmd } } ?? UInt64(processes) * pudRanges
    }

    /// The tables mappings of `length` bytes at `addresses` need: a PMD table per PUD
    /// range and a PUD table per 512 GiB slot that they touch.
    public static func tables(addresses: [UInt64], length: UInt64) -> Tables {
        var puds = Set<UInt64>(), slots = Set<UInt64>()
        for address in addresses where length > 0 {
            for pud in (address / pudSpan)...((address + length - 1) / pudSpan) { puds.insert(pud) }
            for slot in (address >> 39)...((address + length - 1) >> 39) { slots.insert(slot) }
        }
        return Tables(pmd: UInt64(puds.count), pud: UInt64(slots.count))
    }

    /// VmPTE pages a process needs when it maps with PMDs only: one PMD table per PUD
    /// range, plus one PUD table when the mapping opens a fresh 512 GiB slot (VmPTE,
    /// mm_pgtables_bytes, counts PUD, PMD and PTE tables alike). The baseline that
    /// counts PTE fallbacks out of the per-process VmPTE delta.
    public var pmdModeTablePages: UInt64 { pudRanges + (freshPUDTable ? 1 : 0) }

    /// PTE table pages per worker: VmPTE delta pages beyond the PMD-mode baseline. Each
    /// 2 MiB region that fell back to PTEs costs one.
    public var fallbackPages: [UInt64] {
        vmPTEDeltas.indices.map { index in
            let delta = vmPTEDeltas[index]
            let baseline = tablesPerWorker.map { index < $0.count ? $0[index].pmd + ($0[index].pud) : 0 } ?? pmdModeTablePages
            let pages = delta / Self.pageSize
            return pages > baseline ? pages - baseline : 0
        }
    }

    /// Global page-table pages the mapping cost (mapped minus control).
    public var pageTablePagesDelta: Int64 { (Int64(mapped) - Int64(control)) / Int64(Self.pageSize) }

    /// PMD table pages measured: the global delta less PTE fallback pages. In 6.1 a PUD
    /// table comes from a bare get_zeroed_page() (include/asm-generic/pgalloc.h) and is
    /// not in NR_PAGETABLE, so unlike VmPTE the global counter has no PUD pages to take out.
    public var measuredPMDPages: Int64 {
        let fallbacks = fallbackPages.reduce(0, +)
        return pageTablePagesDelta - Int64(fallbacks)
    }

    /// Unshared pages over measured pages: 1 without sharing, N with perfect sharing.
    public var sharingRatio: Double {
        let measured = measuredPMDPages
        return measured > 0 ? Double(expectedUnsharedPMDPages) / Double(measured) : Double.infinity
    }

    /// Page-table bytes left after every worker exited, against before forking.
    public var leakBytes: Int64 { Int64(final) - Int64(preFork) }

    /// The first worker's faults and the median of the others': a sharer finds the PMD
    /// table populated and takes about one fault where the first took one per 2 MiB.
    public var firstWorkerFaults: UInt64? { faults.first }
    public var laterWorkersMedianFaults: UInt64? {
        let later = faults.dropFirst().sorted()
        return later.isEmpty ? nil : later[later.count / 2]
    }
}
