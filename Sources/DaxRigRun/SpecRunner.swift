import DaxRigProtocol
import Foundation
import DaxRigImage
import DaxRigMachine
import DaxRigSupport

/// Everything one spec gave on one kernel.
public struct SpecResults: Sendable {
    public var spec: TestSpec
    public var workloads: [WorkloadResult]
    public var persistence: [PersistenceResult]
    public var stress: [StressResult]

    public init(spec: TestSpec, workloads: [WorkloadResult], persistence: [PersistenceResult], stress: [StressResult] = []) {
        self.spec = spec
        self.workloads = workloads
        self.persistence = persistence
        self.stress = stress
    }

    /// Every run reported (no boot ended without a report).
    public var complete: Bool {
        workloads.allSatisfy { $0.report != nil } && persistence.allSatisfy { $0.write != nil && $0.verify != nil }
            && stress.allSatisfy { $0.report != nil }
    }

    /// Every expectation of every run held.
    public var passed: Bool { workloads.allSatisfy(\.passed) && persistence.allSatisfy(\.passed) && stress.allSatisfy(\.passed) }
}

/// Runs a whole spec: its workloads and stress runs (one boot per pmem file system),
/// then its persistence checks (two boots each). Everything that cannot fit is refused
/// before the first boot.
public struct SpecRunner: Sendable {
    public let runner: GuestRunner

    public init(runner: GuestRunner) { self.runner = runner }

    /// Runs `spec` without recording it.
    public func run(_ spec: TestSpec, kernel: String, image: GuestImage, timeout: Double? = nil,
                    output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> SpecResults {
        let limit = timeout ?? spec.timeout ?? TestSpec.defaultTimeout
        // Measured once: both runners below see the same host (and check nothing again).
        let runner = runner.with(runner.hostFacts(kernel: kernel))
        let (workloads, stress) = spec.workloads.isEmpty && spec.stress.isEmpty ? ([], [])
            : try WorkloadRunner(runner: runner).run(spec.workloads, stress: spec.stress, kernel: kernel, image: image, timeout: limit,
                                                     vcpus: spec.cpus ?? BootRequest.defaultVCPUs, output: output)
        let persistence = spec.persistence.isEmpty ? []
            : try PersistenceRunner(runner: runner).run(spec.persistence, kernel: kernel, image: image, timeout: limit,
                                                        vcpus: spec.cpus ?? BootRequest.defaultVCPUs, output: output)
        return SpecResults(spec: spec, workloads: workloads, persistence: persistence, stress: stress)
    }
}
