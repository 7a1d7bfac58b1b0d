#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A stress run: processes that share one FS/DAX mapping (and, with a sharing patch,
/// its PMD tables) while others munmap, mprotect, mremap, MADV_DONTNEED, truncate,
/// punch holes and fork on their own mappings of the same file, all checking the
/// data for `soakSeconds`. It runs in the boot of the spec's workloads, and its mapping
/// phase is measured as a workload's, so the page-table verdicts mean the same.
public struct StressSpec: Codable, Sendable, Equatable {
    /// What one mutator process does to its mapping (or the file), over and over.
    public enum Op: String, Codable, Sendable, CaseIterable {
        /// munmap part or all of the mapping, mmap it back at the same address.
        case munmap
        /// PROT_READ on part or all of it, read, back to PROT_READ | PROT_WRITE, write.
        case mprotect
        /// Move the whole mapping to another 1 GiB-aligned address and back.
        case mremap
        /// MADV_DONTNEED on part or all of it, then fault it back.
        case madvDontneed = "madv-dontneed"
        /// MADV_COLD on part or all of it, then read and write it again. 6.1 takes a
        /// PMD-mapped DAX entry for a bad PMD here (`bad pmd` on the console).
        case madvCold = "madv-cold"
        /// MADV_PAGEOUT on part or all of it, then read and write it again.
        case madvPageout = "madv-pageout"
        /// Cut the file's last 2 MiB off and extend it again: it must read back as zeros.
        case truncate
        /// FALLOC_FL_PUNCH_HOLE on its scratch stripe: zeros, then allocated again.
        case punchHole = "punch-hole"
        /// Fork a child that checks and writes through the inherited mapping.
        case fork
        /// TLB visibility: a reader child spins on a word of the scratch stripe with no
        /// system call while this process punches the stripe out; once the punch has
        /// returned (ordered through shared memory) the reader must read zeros.
        case tlbPunch = "tlb-punch"
        /// The same, after an mprotect of one 4 KiB page inside the stripe, which splits
        /// its huge PMD at two vma edges (review finding 2: the split flushed only the
        /// splitting process).
        case tlbSplitPunch = "tlb-split-punch"
        /// TLB visibility for truncate: a reader child spins on a word of the file's last
        /// stripe while this process truncates the file short of it; once the truncate
        /// has returned, the reader's next load must raise SIGBUS (beyond end of file).
        case tlbTruncate = "tlb-truncate"
        /// TLB visibility within one process: read through a second mapping of the file,
        /// MADV_DONTNEED and punch through the first, read again through the second: zeros
        /// (review finding 3).
        case tlbTwoMappings = "tlb-two-mappings"
        /// Soft-dirty across sharers (review finding 4): a child clears its own
        /// soft-dirty bits (/proc/self/clear_refs), writes a word of the scratch stripe,
        /// and must still see that page soft-dirty in its pagemap after its parent
        /// cleared its own. Needs CONFIG_MEM_SOFT_DIRTY (kernels/configs/soft-dirty.config).
        case softDirty = "soft-dirty"
        /// msync(MS_SYNC) of part or all of the mapping while the sharers write: writeback
        /// write-protects every mapping's entries, and every sharer's next store must fault.
        case msync
        /// The scratch stripe through get_user_pages: read out by vmsplice into a pipe
        /// (GUP-fast), written and read through /proc/self/mem (remote GUP, FOLL_WRITE),
        /// copied to another file with O_DIRECT and back into the mapping.
        case gup
    }

    /// The ops a [[stress]] section without `ops` runs: every op but MADV_COLD and
    /// MADV_PAGEOUT, which trip a bug 6.1 already has on DAX PMDs (`bad pmd`), so a
    /// default soak judges the kernel's sharing, not that bug; the TLB readers, which
    /// mean something only with a core to themselves (few processes, 2 vCPUs); and
    /// soft-dirty, which needs a kernel option the sharing series excludes. Name them to
    /// run them.
    public static let defaultOps: [Op] = [.munmap, .mprotect, .mremap, .madvDontneed, .truncate, .punchHole, .fork, .msync, .gup]

    public var name: String
    /// fsdax-xfs or fsdax-ext4.
    public var backing: WorkloadSpec.Backing
    /// The file and every process's mapping of it: whole GiB (whole PUD ranges).
    public var bytes: UInt64
    /// Processes that only map, fault, check and write their own stripes.
    public var sharers: Int
    /// One mutator process per op, after the sharers.
    public var ops: [Op]
    public var soakSeconds: Int
    /// Each process's file offset and address shift (offsets below 2 MiB), taken in turn
    /// by process index as a workload's are; every process maps `bytes` of the file.
    public var geometry: MappingGeometry

    public init(name: String, backing: WorkloadSpec.Backing, bytes: UInt64 = 1 << 30, sharers: Int = 8, ops: [Op] = StressSpec.defaultOps,
                soakSeconds: Int = 20, geometry: MappingGeometry = .uniform) {
        self.name = name
        self.backing = backing
        self.bytes = bytes
        self.sharers = sharers
        self.ops = ops
        self.soakSeconds = soakSeconds
        self.geometry = geometry
    }

    private enum CodingKeys: String, CodingKey { case name, backing, bytes, sharers, ops, soakSeconds, geometry }

    /// Runs stored before stress geometry existed decode as uniform.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name), backing: try c.decode(WorkloadSpec.Backing.self, forKey: .backing),
                  bytes: try c.decode(UInt64.self, forKey: .bytes), sharers: try c.decode(Int.self, forKey: .sharers),
                  ops: try c.decode([Op].self, forKey: .ops), soakSeconds: try c.decode(Int.self, forKey: .soakSeconds),
                  geometry: try c.decodeIfPresent(MappingGeometry.self, forKey: .geometry) ?? .uniform)
    }

    /// The largest file offset a stress process may map at: below one stripe, so only
    /// the file's first and last stripes are partly outside some process's mapping.
    public static let maximumFileOffset = StressLayout.stripeBytes

    /// The file stripe the layout's stripe 0 is: 1 when some process maps the file from
    /// an offset, whose mapping then holds only part of stripe 0.
    public var stripeBase: Int { geometry.maximumFileOffset > 0 ? 1 : 0 }

    public var processes: Int { sharers + ops.count }

    /// The op process `index` loops on; nil for a sharer.
    public func op(of index: Int) -> Op? { index >= sharers && index < processes ? ops[index - sharers] : nil }

    /// The mapping phase as a workload: the same file name, address and access (one
    /// write per 2 MiB), so it is faulted, snapshotted and judged as one.
    public var mapping: WorkloadSpec {
        WorkloadSpec(name: name, backing: backing, processes: processes, mappingBytes: bytes, geometry: geometry)
    }

    /// Where the mremap mutator moves its mapping: 256 GiB past the map address, 1 GiB
    /// aligned, in the same 512 GiB slot (the PUD table it already has). A process adds
    /// its own address shift, as at home.
    public var remapAddress: UInt64 { mapping.mapAddress + (256 << 30) }
    /// The largest file whose mapping and its mremap target cannot overlap.
    public static let maximumBytes: UInt64 = 128 << 30

    public var layout: StressLayout { StressLayout(stripes: Int(bytes / StressLayout.stripeBytes) - stripeBase, sharers: sharers, ops: ops) }

    /// The word at `word` of `stripe` in generation `generation`. Stable stripes only
    /// ever hold generation 0, so any process can check them while their owner writes
    /// them again; a mutator's scratch stripe gets a new generation every iteration,
    /// so a write lost to a remap shows as the previous generation.
    @inlinable
    public static func pattern(stripe: Int, word: Int, seed: UInt64, generation: UInt64 = 0) -> UInt64 {
        Pattern.word(offset: UInt64(stripe) * StressLayout.stripeBytes + UInt64(word) * 8, seed: generationSeed(seed, generation))
    }

    @inlinable
    public static func generationSeed(_ seed: UInt64, _ generation: UInt64) -> UInt64 {
        seed ^ generation &* 0xD6E8_FEB8_6659_FD93
    }
}

/// What the guest found in one stress run.
public struct StressReport: Codable, Sendable, Equatable {
    /// One process's soak.
    public struct Process: Codable, Sendable, Equatable {
        /// nil for a sharer.
        public var op: StressSpec.Op?
        public var iterations: UInt64
        public var wordsVerified: UInt64
        public var mismatches: UInt64
        public var failedCalls: UInt64
        /// The first failed call: which, where, and errno (or how a child ended).
        public var firstFailure: String?
        public var firstMismatch: Mismatch?
        /// The op's call this kernel does not have (madvise without
        /// CONFIG_ADVISE_SYSCALLS, say): not a failure, but the op did not run.
        public var unsupported: String?
        /// Seconds in the op's own call that changes the page tables (madvise for the
        /// madv ops) over the soak, and how many calls; nil for ops that do not time it.
        public var callSeconds: Double?
        public var calls: UInt64?

        public init(op: StressSpec.Op?, iterations: UInt64, wordsVerified: UInt64, mismatches: UInt64 = 0, failedCalls: UInt64 = 0,
                    firstFailure: String? = nil, firstMismatch: Mismatch? = nil, callSeconds: Double? = nil, calls: UInt64? = nil,
                    unsupported: String? = nil) {
            self.callSeconds = callSeconds
            self.calls = calls
            self.unsupported = unsupported
            self.op = op
            self.iterations = iterations
            self.wordsVerified = wordsVerified
            self.mismatches = mismatches
            self.failedCalls = failedCalls
            self.firstFailure = firstFailure
            self.firstMismatch = firstMismatch
        }

        /// "sharer" or the op's name.
        public var role: String { op?.rawValue ?? "sharer" }
    }

    /// The first word a process found wrong.
    public struct Mismatch: Codable, Sendable, Equatable, CustomStringConvertible {
        public var stripe: Int
        public var word: Int
        public var expected: UInt64
        public var found: UInt64
        /// What the process was doing: "munmap iteration 3", "final check", ...
        public var during: String

        public init(stripe: Int, word: Int, expected: UInt64, found: UInt64, during: String) {
            self.stripe = stripe
            self.word = word
            self.expected = expected
            self.found = found
            self.during = during
        }

        public var description: String {
            let offset = UInt64(stripe) * StressLayout.stripeBytes + UInt64(word) * 8
            return "stripe \(stripe) word \(word) (file offset \(offset)) read 0x\(String(found, radix: 16)) instead of "
                + (expected == 0 ? "zeros" : "0x\(String(expected, radix: 16))") + " (\(during))"
        }
    }

    public var spec: StressSpec
    /// The mapping phase, measured as a workload's: PageTables before forking, at
    /// control, mapped and after every process exited; each process's VmPTE, faults,
    /// mmap errno and exit status. A worker's `mismatches` are its process's over the
    /// whole run.
    public var mapping: WorkloadReport
    /// In process order: the sharers, then one mutator per op.
    public var processes: [Process]
    /// The longest soak of any process (each finishes the iteration it is in).
    public var soakSeconds: Double

    public init(spec: StressSpec, mapping: WorkloadReport, processes: [Process], soakSeconds: Double) {
        self.spec = spec
        self.mapping = mapping
        self.processes = processes
        self.soakSeconds = soakSeconds
    }

    public var mismatches: UInt64 { processes.reduce(0) { $0 + $1.mismatches } }
    public var failedCalls: UInt64 { processes.reduce(0) { $0 + $1.failedCalls } }
    public var wordsVerified: UInt64 { processes.reduce(0) { $0 + $1.wordsVerified } }

    /// Iterations per role, sharers summed, in process order.
    public var iterations: [(role: String, count: UInt64)] {
        var result: [(role: String, count: UInt64)] = []
        for process in processes {
            if let at = result.firstIndex(where: { $0.role == process.role }) { result[at].count += process.iterations }
            else { result.append((process.role, process.iterations)) }
        }
        return result
    }
}
