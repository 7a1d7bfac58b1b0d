import DaxRigProtocol
import Foundation
import DaxRigImage
import DaxRigSupport
import DaxRigMachine

/// One workload's outcome: the guest's report (when it got that far), the verdicts.
public struct WorkloadResult: Sendable {
    public var workload: WorkloadCase
    public var report: WorkloadReport?
    public var verdicts: [Verdict]
    /// Why there is no report (the boot's outcome), when there is none.
    public var error: String?
    /// How the boot ended, and its kept console log, when it gave no report.
    public var outcome: BootOutcome?
    public var consoleLog: String?
    /// Seconds from the domain's start to the agent's command (pmem prepared) of the
    /// boot this workload ran in.
    public var bootSeconds: Double?

    public var passed: Bool { report != nil && verdicts.allSatisfy(\.passed) }

    public init(workload: WorkloadCase, report: WorkloadReport?, verdicts: [Verdict], error: String?, outcome: BootOutcome? = nil,
                consoleLog: String? = nil, bootSeconds: Double? = nil) {
        self.bootSeconds = bootSeconds
        self.outcome = outcome
        self.consoleLog = consoleLog
        self.workload = workload
        self.report = report
        self.verdicts = verdicts
        self.error = error
    }
}

/// Runs workload cases and stress runs: one boot per pmem file system, the cases of a
/// boot one after another in the same guest.
public struct WorkloadRunner: Sendable {
    public let runner: GuestRunner

    public init(runner: GuestRunner) { self.runner = runner }

    /// What one worker costs the guest beyond its mapping's tables: its task, kernel stack,
    /// slab, its own page tables and the anonymous memory it writes after fork. Measured
    /// 285 KiB on 2026-12-05 (aWorkerCostsTheGuestLessThanDaxrigBudgetsForIt); the 256 KiB
    /// budgeted before had N = 10,000 on xfs OOM-killed in a 3072 MiB guest.
    public static let workerBytes: UInt64 = 384 << 10

    /// Guest memory for a boot: a base, the huge pages a hugetlbfs case reserves, the
    /// PTE tables of workers that map 4 KiB pages, a PMD table per GiB each worker maps
    /// (unshared, as on a kernel without the series), and `workerBytes` per worker, for
    /// the largest N.
    public static func memoryMiB(for cases: [WorkloadCase]) -> Int {
        let huge = cases.filter { $0.spec.backing == .hugetlbfs || $0.spec.backing == .tmpfs }.map(\.spec.fileBytes).max() ?? 0
        let workers = cases.map(\.spec.processes).max() ?? 1
        // A PTE table page per 2 MiB for every worker that may map with PTEs.
        let pteTables = cases.map { UInt64(pteMappedWorkers($0.spec) * $0.spec.geometry.mappings) * ($0.spec.geometry.maximumLength(size: $0.spec.mappingBytes) / 512) }.max() ?? 0
        // A PMD table page per GiB for every mapping of every worker, and one more each for
        // a mapping that straddles a PUD boundary (budgeted for all: the geometry places
        // them): 64 GiB each is 256 KiB a worker, past the worker's own cost. hugetlbfs
        // shares its PMD tables, so it needs none of its own.
        let pmdTables = cases.filter { $0.spec.backing != .hugetlbfs }.map { c -> UInt64 in
            let gibs = (c.spec.geometry.maximumLength(size: c.spec.mappingBytes) + PmdAccounting.pudSpan - 1) / PmdAccounting.pudSpan + 1
            return UInt64(c.spec.processes * c.spec.geometry.mappings) * gibs * PmdAccounting.pageSize
        }.max() ?? 0
        let bytes = (512 << 20) + huge + pteTables + pmdTables + UInt64(workers) * workerBytes
        return Int((bytes + (64 << 20) - 1) >> 20) / 64 * 64
    }

    /// Workers whose mappings may take PTE tables: all of them on tmpfs; on ext4 too,
    /// which leaves regions of a file unaligned (104 of 512 measured here), the worst
    /// case budgeted; on xfs (stripe-aligned) the workers whose file offset and
    /// address differ modulo 2 MiB, which DAX maps with PTEs throughout.
    static func pteMappedWorkers(_ spec: WorkloadSpec) -> Int {
        switch spec.backing {
        case .tmpfs, .fsdaxExt4: return spec.processes
        case .hugetlbfs: return 0
        case .fsdaxXfs:
            let huge = PmdAccounting.pmdSpan
            return (0..<spec.processes).count { worker in
                (spec.geometry.fileOffset(of: worker) % huge) != (spec.geometry.addressShift(of: worker) % huge)
            }
        }
    }

    /// Refuses, before any boot, workloads the host cannot hold: a guest needing more
    /// memory than the host has available, or FS/DAX files larger than the disk
    /// under the backing files.
    public static func check(_ cases: [WorkloadCase], hostMemoryAvailable: UInt64, hostDiskAvailable: UInt64) throws {
        for item in cases {
            let spec = item.spec
            guard (1...10_000).contains(spec.processes) else {
                throw WorkloadError.doesNotFit(workload: spec.name, what: "processes", need: "1 to 10000", have: "\(spec.processes)")
            }
            guard spec.mappingBytes >= 2 << 20, spec.mappingBytes % (2 << 20) == 0 else {
                throw WorkloadError.doesNotFit(workload: spec.name, what: "mapping size", need: "a multiple of 2 MiB",
                                               have: ByteSize.format(spec.mappingBytes))
            }
            let memory = UInt64(memoryMiB(for: [item])) << 20
            if memory > hostMemoryAvailable * 3 / 4 {
                throw WorkloadError.doesNotFit(workload: spec.name, what: "guest memory",
                                               need: "\(ByteSize.format(memory)) for \(spec.processes) processes x \(ByteSize.format(spec.mappingBytes)) on \(spec.backing.rawValue)",
                                               have: "\(ByteSize.format(hostMemoryAvailable)) of memory available, of which daxrig uses at most 3/4")
            }
            if spec.backing.pmemFileSystem != nil, spec.access != .readSparse, spec.fileBytes + (1 << 30) > hostDiskAvailable {
                throw WorkloadError.doesNotFit(workload: spec.name, what: "pmem backing file",
                                               need: "\(ByteSize.format(spec.fileBytes + (1 << 30))) of disk (the file, allocated, and 1 GiB for the file system)",
                                               have: "\(ByteSize.format(hostDiskAvailable)) free")
            }
        }
    }

    public func run(_ cases: [WorkloadCase], kernel: String, image: GuestImage, timeout: Double = 900,
                    output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> [WorkloadResult] {
        try run(cases, stress: [], kernel: kernel, image: image, timeout: timeout, output: output).workloads
    }

    /// The cases of one boot: its pmem file system, its workloads, then its stress runs.
    struct Boot {
        var fileSystem: PmemSetup.FileSystem
        var workloads: [WorkloadCase] = []
        var stress: [StressCase] = []
    }

    /// Workloads and stress runs: each stress run goes in the boot of its file system,
    /// after that boot's workloads.
    public func run(_ cases: [WorkloadCase], stress: [StressCase], kernel: String, image: GuestImage, timeout: Double = 900,
                    vcpus: Int = BootRequest.defaultVCPUs, output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> (workloads: [WorkloadResult], stress: [StressResult]) {
        let runner = runner.with(try runner.hostFacts(kernel: kernel) { memory, disk in
            try Self.check(cases + stress.map(\.mapping), hostMemoryAvailable: memory, hostDiskAvailable: disk)
        })
        // Group by the pmem file system the FS/DAX cases need; other cases ride along.
        var boots: [Boot] = []
        /// The boot of a file system, added when there is none yet.
        func boot(_ fs: PmemSetup.FileSystem) -> Int {
            if let at = boots.firstIndex(where: { $0.fileSystem == fs }) { return at }
            boots.append(Boot(fileSystem: fs))
            return boots.count - 1
        }
        for item in cases {
            boots[boot(item.spec.backing.pmemFileSystem ?? boots.first?.fileSystem ?? .xfs)].workloads.append(item)
        }
        for item in stress {
            boots[boot(item.spec.backing.pmemFileSystem ?? .xfs)].stress.append(item)
        }
        var results: [WorkloadResult] = []
        var stressResults: [StressResult] = []
        for group in boots {
            let task = GuestTask.workload(WorkloadPayload(workloads: group.workloads.map(\.spec), stress: group.stress.map(\.spec)))
            // A sparse file read through the huge zero page needs no pmem behind it.
            let files = group.workloads.filter { $0.spec.access != .readSparse } + group.stress.map(\.mapping)
            let pmemBytes = PmemBackingFile.size(forLargestFile: files.map(\.spec.fileBytes).max() ?? 0)
            let request = BootRequest(kernel: kernel, plan: GuestPlan(pmem: PmemSetup(fileSystem: group.fileSystem), task: task,
                                                                      environment: Self.injectedFaults()),
                                      pmemSizes: [pmemBytes], memoryMiB: Self.memoryMiB(for: group.workloads + group.stress.map(\.mapping)), vcpus: vcpus, timeout: timeout)
            let tail = OutputTail()
            let boot = try runner.boot(request, image: image) { stream, data in
                if stream == .stdout { tail.append(data) }
                output(stream, data)
            }
            let decoded = GuestReports(boot.reports)
            // Why a case of this boot has no report: the workload's own last word, the boot's
            // end, and any report that did not decode.
            let noReport = "no report: " + (tail.lastLine(startingWith: "workload failed").map { "\($0); " } ?? "")
                + boot.summary + decoded.malformedNote
            let (reports, stressReports) = (decoded.workloads, decoded.stress)
            let bootSeconds = boot.phases.filter(\.name.isBoot).map(\.seconds).reduce(0, +)
            for item in group.workloads {
                if let report = reports.first(where: { $0.spec == item.spec }) {
                    let verdicts = item.expectations.map { Judge.judge($0, report: report, findings: boot.findings(for: item.spec.name)) }
                    results.append(WorkloadResult(workload: item, report: report, verdicts: verdicts, error: nil, bootSeconds: bootSeconds))
                } else {
                    results.append(WorkloadResult(workload: item, report: nil, verdicts: [],
                                                  error: noReport,
                                                  outcome: boot.outcome, consoleLog: boot.consoleLog, bootSeconds: bootSeconds))
                }
            }
            for item in group.stress {
                if let report = stressReports.first(where: { $0.spec == item.spec }) {
                    let verdicts = item.expectations.map { Judge.judge($0, stress: report, findings: boot.findings(for: item.spec.name)) }
                    stressResults.append(StressResult(stress: item, report: report, verdicts: verdicts, error: nil, bootSeconds: bootSeconds))
                } else {
                    stressResults.append(StressResult(stress: item, report: nil, verdicts: [], error: noReport,
                                                      outcome: boot.outcome, consoleLog: boot.consoleLog, bootSeconds: bootSeconds))
                }
            }
        }
        return (results, stressResults)
    }

    /// Test-only fault injection, passed to the guest's workload as it is in daxrig's
    /// own environment: DAXRIG_INJECT_SIGBUS=<worker index> makes that worker of every
    /// workload die of a real SIGBUS right after the control snapshot, as a worker a
    /// DAX fault killed would (what the rig must then report; README, "Measuring PMD
    /// sharing"); DAXRIG_INJECT_OOM=<worker index> has that worker take memory until the
    /// guest's OOM killer kills it, as a guest too small for its run would;
    /// DAXRIG_INJECT_PANIC=<worker index> has that worker panic the kernel (sysrq crash).
    static func injectedFaults(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        environment.filter { ["DAXRIG_INJECT_SIGBUS", "DAXRIG_INJECT_OOM", "DAXRIG_INJECT_PANIC"].contains($0.key) }
    }
}

/// A workload that cannot run on this host, found before booting.
public enum WorkloadError: RigError, Equatable {
    /// What the user can fix: exit 2.
    public var exitStatus: ExitStatus { .badInput }

    case doesNotFit(workload: String, what: String, need: String, have: String)

    public var description: String {
        switch self {
        case let .doesNotFit(workload, what, need, have):
            return "workload \(workload) does not fit: its \(what) needs \(need); this host has \(have). Use fewer processes or a smaller --size."
        }
    }
}
