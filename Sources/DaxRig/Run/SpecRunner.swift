import DaxRigProtocol
import Foundation

/// Everything one spec gave on one kernel.
public struct SpecResults: Sendable {
    public var spec: TestSpec
    public var workloads: [WorkloadResult]
    public var persistence: [PersistenceResult]

    public init(spec: TestSpec, workloads: [WorkloadResult], persistence: [PersistenceResult]) {
        self.spec = spec
        self.workloads = workloads
        self.persistence = persistence
    }

    /// Every run reported (no boot ended without a report).
    public var complete: Bool {
        workloads.allSatisfy { $0.report != nil } && persistence.allSatisfy { $0.write != nil && $0.verify != nil }
    }

    /// Every expectation of every run held.
    public var passed: Bool { workloads.allSatisfy(\.passed) && persistence.allSatisfy(\.passed) }
}

/// Runs a whole spec: its workloads (one boot per pmem file system), then its
/// persistence checks (two boots each). Everything that cannot fit is refused before
/// the first boot.
public struct SpecRunner: Sendable {
    public let runner: GuestRunner

    public init(runner: GuestRunner) { self.runner = runner }

    public func run(_ spec: TestSpec, kernel: String, image: GuestImage, timeout: Double? = nil,
                    output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> SpecResults {
        let capacity = WorkloadRunner.hostCapacity(cache: runner.cache)
        try WorkloadRunner.check(spec.workloads, hostMemoryAvailable: capacity.memory, hostDiskAvailable: capacity.disk)
        try PersistenceRunner.check(spec.persistence, hostDiskAvailable: capacity.disk)
        let limit = timeout ?? spec.timeout ?? 900
        let workloads = spec.workloads.isEmpty ? []
            : try WorkloadRunner(runner: runner).run(spec.workloads, kernel: kernel, image: image, timeout: limit, output: output)
        let persistence = spec.persistence.isEmpty ? []
            : try PersistenceRunner(runner: runner).run(spec.persistence, kernel: kernel, image: image, timeout: limit, output: output)
        return SpecResults(spec: spec, workloads: workloads, persistence: persistence)
    }
}
