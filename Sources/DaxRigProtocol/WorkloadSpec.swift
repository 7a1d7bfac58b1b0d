#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One many-process mapping workload, as the host asks the guest to run it.
public struct WorkloadSpec: Codable, Sendable, Equatable {
    /// What the mapped file lives on.
    public enum Backing: String, Codable, Sendable, CaseIterable {
        /// FS/DAX: a file on the pmem mount (xfs or ext4), mapped straight onto pmem.
        case fsdaxXfs = "fsdax-xfs", fsdaxExt4 = "fsdax-ext4"
        /// The control that shares PMD tables on unpatched kernels: 2 MiB huge pages.
        case hugetlbfs
        /// Page cache on tmpfs: the second control (4 KiB pages, PTE tables).
        case tmpfs

        /// The pmem file system this backing needs the guest to have mounted, if any.
        public var pmemFileSystem: PmemSetup.FileSystem? {
            switch self {
            case .fsdaxXfs: .xfs
            case .fsdaxExt4: .ext4
            case .hugetlbfs, .tmpfs: nil
            }
        }
    }

    public enum Access: String, Codable, Sendable, CaseIterable {
        /// One write per 2 MiB: one fault per PMD-sized region.
        case writePer2M = "write-per-2m"
        /// One read per 2 MiB of a sparse file: the huge zero page, no pmem used.
        case readSparse = "read-sparse"
        /// A write to every 4 KiB page.
        case every4K = "every-4k"
    }

    public var name: String
    public var backing: Backing
    public var processes: Int
    public var mappingBytes: UInt64
    /// Map at a 1 GiB-aligned address, so the mapping covers whole PUD ranges (the
    /// precondition for sharing PMD tables); false maps 2 MiB past it.
    public var pudAligned: Bool
    public var access: Access
    /// MAP_SHARED_VALIDATE | MAP_SYNC (FS/DAX only).
    public var mapSync: Bool
    /// Each process's file offset, address shift and number of mappings.
    public var geometry: MappingGeometry

    public init(name: String, backing: Backing, processes: Int, mappingBytes: UInt64, pudAligned: Bool = true,
                access: Access = .writePer2M, mapSync: Bool = false, geometry: MappingGeometry = .uniform) {
        self.geometry = geometry
        self.name = name
        self.backing = backing
        self.processes = processes
        self.mappingBytes = mappingBytes
        self.pudAligned = pudAligned
        self.access = access
        self.mapSync = mapSync
    }

    /// The address every worker maps at: 1 TiB, the start of a fresh 512 GiB slot (so
    /// each worker allocates exactly one PUD table for it), plus 2 MiB when unaligned.
    public var mapAddress: UInt64 { (1 << 40) + (pudAligned ? 0 : 2 << 20) }

    /// The file's length: the longest mapping plus the largest file offset any process maps at.
    public var fileBytes: UInt64 { geometry.maximumLength(size: mappingBytes) + geometry.maximumFileOffset }

    /// The length `worker` maps: the spec's size unless the geometry gives it another.
    public func mappingBytes(of worker: Int) -> UInt64 { geometry.length(of: worker, size: mappingBytes) }

    /// Where `worker`'s mappings start.
    public func addresses(of worker: Int) -> [UInt64] { geometry.addresses(of: worker, base: mapAddress, length: mappingBytes) }

    /// Reports written before geometry existed decode as uniform.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name), backing: try c.decode(Backing.self, forKey: .backing),
                  processes: try c.decode(Int.self, forKey: .processes), mappingBytes: try c.decode(UInt64.self, forKey: .mappingBytes),
                  pudAligned: try c.decode(Bool.self, forKey: .pudAligned), access: try c.decode(Access.self, forKey: .access),
                  mapSync: try c.decode(Bool.self, forKey: .mapSync),
                  geometry: try c.decodeIfPresent(MappingGeometry.self, forKey: .geometry) ?? .uniform)
    }
}

/// What the guest measured for one workload.
public struct WorkloadReport: Codable, Sendable, Equatable {
    public struct Worker: Codable, Sendable, Equatable {
        public var vmPTEBefore: UInt64
        public var vmPTEAfter: UInt64
        public var faults: UInt64
        public var faultNanoseconds: UInt64
        /// Pattern words found wrong when verifying other workers' stripes.
        public var mismatches: UInt64
        /// errno of a failed mmap (0 when it mapped), and the worker's exit status.
        public var mapErrno: Int32
        public var exitStatus: Int32
        /// The first word it read wrong, if any.
        public var firstMismatch: WordMismatch?
        /// A read-only worker's probe: true when a store to its PROT_READ mapping went
        /// through instead of raising SIGSEGV (nil: not read-only, or not probed).
        public var readOnlyStoreTaken: Bool?
        /// The signal that ended it, as its handler recorded it (nil: it was not
        /// killed by a fault or a trap, or the report predates the handler).
        public var fatalSignal: FatalSignal?

        public init(vmPTEBefore: UInt64, vmPTEAfter: UInt64, faults: UInt64, faultNanoseconds: UInt64, mismatches: UInt64,
                    mapErrno: Int32, exitStatus: Int32, firstMismatch: WordMismatch? = nil, readOnlyStoreTaken: Bool? = nil,
                    fatalSignal: FatalSignal? = nil) {
            self.fatalSignal = fatalSignal
            self.firstMismatch = firstMismatch
            self.readOnlyStoreTaken = readOnlyStoreTaken
            self.vmPTEBefore = vmPTEBefore
            self.vmPTEAfter = vmPTEAfter
            self.faults = faults
            self.faultNanoseconds = faultNanoseconds
            self.mismatches = mismatches
            self.mapErrno = mapErrno
            self.exitStatus = exitStatus
        }

        /// How it ended when not cleanly, as verdicts name it: "killed by signal 7,
        /// BUS_ADRERR at 0x..., after 1 barrier" or "exit status 1".
        public var ending: String {
            (exitStatus > 128 ? "killed by signal \(exitStatus - 128)" : "exit status \(exitStatus)")
                + (fatalSignal.map { ", \($0)" } ?? "")
        }
    }

    public var spec: WorkloadSpec
    /// Global PageTables bytes (after vm/stat_refresh) at the four snapshots.
    public var preFork: UInt64
    public var control: UInt64
    public var mapped: UInt64
    public var final: UInt64
    public var workers: [Worker]
    /// Words of each stripe written and verified, for the record.
    public var patternWords: UInt64
    public var seconds: Double
    /// Anything the guest wants the host to know (could not refresh counters, ...).
    public var notes: [String]
    /// The guest's MemTotal, and MemTotal - MemAvailable at the mapped snapshot: what
    /// N workers with everything mapped cost the guest.
    public var memTotal: UInt64?
    public var memUsedMapped: UInt64?
    /// FS/DAX: 2 MiB regions of the file that lie in one extent at a 2 MiB-aligned
    /// device address (FIEMAP), i.e. that can be mapped with a PMD at all.
    public var alignedRegions: UInt64?
    /// fs_dax:dax_pmd_fault_done by result over the fault phase, where the kernel has
    /// tracing (nil otherwise).
    public var pmdFaults: PmdFaultCounts?
    /// CPUs online in the guest: what a spec's `cpus` gave the workers to run on.
    public var cpus: Int?
    /// Where `seconds` went, in order (nil from an agent that predates them): what is
    /// the rig's own cost under TCG and what is the kernel's (benchmarks/run.sh).
    public var phases: [WorkloadPhase]?

    public init(spec: WorkloadSpec, preFork: UInt64, control: UInt64, mapped: UInt64, final: UInt64, workers: [Worker],
                patternWords: UInt64, seconds: Double, notes: [String], memTotal: UInt64? = nil, alignedRegions: UInt64? = nil,
                pmdFaults: PmdFaultCounts? = nil, memUsedMapped: UInt64? = nil, cpus: Int? = nil, phases: [WorkloadPhase]? = nil) {
        self.phases = phases
        self.cpus = cpus
        self.pmdFaults = pmdFaults
        self.alignedRegions = alignedRegions
        self.memTotal = memTotal
        self.memUsedMapped = memUsedMapped
        self.spec = spec
        self.preFork = preFork
        self.control = control
        self.mapped = mapped
        self.final = final
        self.workers = workers
        self.patternWords = patternWords
        self.seconds = seconds
        self.notes = notes
    }

    public var accounting: PmdAccounting {
        PmdAccounting(processes: spec.processes, mappingBytes: spec.mappingBytes, preFork: preFork, control: control,
                      mapped: mapped, final: final,
                      vmPTEDeltas: workers.map { $0.vmPTEAfter > $0.vmPTEBefore ? $0.vmPTEAfter - $0.vmPTEBefore : 0 },
                      faults: workers.map(\.faults), offsetInPUD: spec.mapAddress % PmdAccounting.pudSpan,
                      tablesPerWorker: spec.geometry.isUniform ? nil : workers.indices.map { PmdAccounting.tables(addresses: spec.addresses(of: $0), length: spec.mappingBytes(of: $0)) })
    }
}

/// One stretch of a workload in the guest, timed by the agent's parent process from
/// one barrier to the next: "file" (create, allocate, FIEMAP), "fork" (every worker
/// forked and ready: its own text faulted, its rehearsal), "first" (worker 0 maps and
/// faults alone), "fault" (the others, and the mapped snapshot), "work" (the
/// workload's barriers: the data pattern written and checked; then every worker
/// unmaps), "exit" (the workers reaped, the last snapshot, the file removed).
public struct WorkloadPhase: Codable, Sendable, Equatable {
    public var name: String
    public var seconds: Double

    public init(_ name: String, seconds: Double) {
        self.name = name
        self.seconds = seconds
    }
}
