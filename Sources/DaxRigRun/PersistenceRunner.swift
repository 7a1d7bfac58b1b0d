import DaxRigProtocol
import Foundation
import DaxRigImage
import DaxRigSupport
import DaxRigMachine

/// One persistence check's outcome: what each boot reported, and the verdicts.
public struct PersistenceResult: Sendable {
    public var check: PersistenceCase
    public var write: PersistenceReport?
    public var verify: PersistenceReport?
    public var verdicts: [Verdict]
    /// Why a boot gave no report, when one did not, and how that boot ended.
    public var error: String?
    public var outcome: BootOutcome?
    public var consoleLog: String?

    public var passed: Bool { write != nil && verify != nil && verdicts.allSatisfy(\.passed) }

    public init(check: PersistenceCase, write: PersistenceReport?, verify: PersistenceReport?, verdicts: [Verdict], error: String?,
                outcome: BootOutcome? = nil, consoleLog: String? = nil) {
        self.outcome = outcome
        self.consoleLog = consoleLog
        self.check = check
        self.write = write
        self.verify = verify
        self.verdicts = verdicts
        self.error = error
    }
}

/// Runs persistence checks: per check, one boot that writes and loses power, and a
/// second boot on the same backing file that verifies. The backing file lives in a
/// run directory of its own, removed afterwards (also on Ctrl-C); with a failure, the
/// console logs are kept by the boots as usual.
public struct PersistenceRunner: Sendable {
    /// Guest memory for a persistence boot: the writers map pmem, not RAM.
    public static let memoryMiB = 512

    public let runner: GuestRunner

    public init(runner: GuestRunner) { self.runner = runner }

    static func pmemBytes(for spec: PersistenceSpec) -> UInt64 { PmemBackingFile.size(forLargestFile: spec.fileBytes) }

    public static func check(_ checks: [PersistenceCase], hostDiskAvailable: UInt64) throws {
        for check in checks where pmemBytes(for: check.spec) > hostDiskAvailable {
            throw WorkloadError.doesNotFit(workload: check.spec.name, what: "pmem backing file",
                                           need: ByteSize.format(pmemBytes(for: check.spec)) + " of disk", have: "\(ByteSize.format(hostDiskAvailable)) free")
        }
    }

    public func run(_ checks: [PersistenceCase], kernel: String, image: GuestImage, timeout: Double = 600,
                    vcpus: Int = BootRequest.defaultVCPUs,
                    output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> [PersistenceResult] {
        let runner = PersistenceRunner(runner: runner.with(try runner.hostFacts(kernel: kernel) { _, disk in
            try Self.check(checks, hostDiskAvailable: disk)
        }))
        return try checks.map { try runner.run($0, kernel: kernel, image: image, timeout: timeout, vcpus: vcpus, output: output) }
    }

    private func run(_ check: PersistenceCase, kernel: String, image: GuestImage, timeout: Double, vcpus: Int,
                     output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> PersistenceResult {
        guard let fileSystem = check.spec.backing.pmemFileSystem else {
            throw WorkloadError.doesNotFit(workload: check.spec.name, what: "backing", need: "fsdax-xfs or fsdax-ext4", have: check.spec.backing.rawValue)
        }
        let directory = try Leftovers.runDirectory(in: runner.cache)
        let removal = Cleanup.shared.add("remove \(directory.path)") { Files.remove(directory.path) }
        defer { Cleanup.shared.run(removal) }
        let size = Self.pmemBytes(for: check.spec)
        // Both boots on one pmem: on another host, one volume there.
        let (backing, remove) = try runner.persistentPmem(size: size, in: directory)
        let removeBacking = Cleanup.shared.add("remove the pmem \(backing)") { remove() }
        defer { Cleanup.shared.run(removeBacking) }

        func boot(_ phase: PersistenceReport.Phase) throws -> (BootResult, PersistenceReport?, String) {
            let plan = GuestPlan(pmem: PmemSetup(fileSystem: fileSystem, reuse: phase == .verify),
                                 task: .persist(phase, [check.spec]), abruptPowerOff: phase == .write)
            let request = BootRequest(kernel: kernel, plan: plan, pmemSizes: [size], pmemBackingFiles: [backing], memoryMiB: Self.memoryMiB, vcpus: vcpus, timeout: timeout)
            let result = try runner.boot(request, image: image, output: output)
            let decoded = GuestReports(result.reports)
            return (result, decoded.persistence.first { $0.spec == check.spec && $0.phase == phase }, decoded.malformedNote)
        }

        let (first, written, firstNote) = try boot(.write)
        guard let written, case .commandExited(0, _) = first.outcome else {
            return PersistenceResult(check: check, write: written, verify: nil, verdicts: [],
                                     error: "write boot: \(first.summary)\(firstNote)",
                                     outcome: first.outcome, consoleLog: first.consoleLog)
        }
        let (second, verified, secondNote) = try boot(.verify)
        guard let verified else {
            return PersistenceResult(check: check, write: written, verify: nil, verdicts: [],
                                     error: "verify boot: \(second.summary)\(secondNote)",
                                     outcome: second.outcome, consoleLog: second.consoleLog)
        }
        let verdicts = check.expectations.map {
            Judge.judge($0, written: written, verified: verified, findings: first.findings + second.findings)
        }
        return PersistenceResult(check: check, write: written, verify: verified, verdicts: verdicts, error: nil)
    }
}
