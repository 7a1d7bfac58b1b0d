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
    public var suites: [SuiteResult]

    public init(spec: TestSpec, workloads: [WorkloadResult], persistence: [PersistenceResult], stress: [StressResult] = [], suites: [SuiteResult] = []) {
        self.spec = spec
        self.suites = suites
        self.workloads = workloads
        self.persistence = persistence
        self.stress = stress
    }

    /// Every run reported (no boot ended without a report).
    public var complete: Bool {
        workloads.allSatisfy { $0.report != nil } && persistence.allSatisfy { $0.write != nil && $0.verify != nil }
            && stress.allSatisfy { $0.report != nil } && suites.allSatisfy { $0.printed }
    }

    /// The console logs the boots kept (each beside what else its run directory kept).
    public var keptConsoleLogs: [String] {
        Array(Set(workloads.compactMap(\.consoleLog) + persistence.compactMap(\.consoleLog) + stress.compactMap(\.consoleLog)
                  + suites.compactMap(\.consoleLog))).sorted()
    }

    /// Every expectation of every run held.
    public var passed: Bool { workloads.allSatisfy(\.passed) && persistence.allSatisfy(\.passed) && stress.allSatisfy(\.passed) && suites.allSatisfy(\.passed) }
}

/// Runs a whole spec: its workloads and stress runs (one boot per pmem file system),
/// then its persistence checks (two boots each). Everything that cannot fit is refused
/// before the first boot (and before the host's accelerator is probed).
public struct SpecRunner: Sendable {
    public let runner: GuestRunner

    public init(runner: GuestRunner) { self.runner = runner }

    /// Refuses a spec whose workloads, stress runs or persistence checks cannot fit in
    /// `memory` and `disk` (the host's available memory and free disk), naming the numbers.
    public static func check(_ spec: TestSpec, memory: UInt64, disk: UInt64) throws {
        try WorkloadRunner.check(spec.workloads + spec.stress.map(\.mapping), hostMemoryAvailable: memory, hostDiskAvailable: disk)
        try PersistenceRunner.check(spec.persistence, hostDiskAvailable: disk)
        for suite in spec.suites where UInt64(suite.memoryMiB) << 20 > memory * 3 / 4 {
            throw WorkloadError.doesNotFit(workload: suite.name, what: "guest memory", need: "\(suite.memoryMiB) MiB",
                                           have: "\(memory >> 20) MiB available, of which daxrig uses at most 3/4")
        }
    }

    /// Runs `spec` without recording it.
    public func run(_ spec: TestSpec, kernel: String, image: GuestImage, timeout: Double? = nil,
                    output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> SpecResults {
        let limit = timeout ?? spec.timeout ?? TestSpec.defaultTimeout
        // Measured once, every case checked against it: both runners below see the same
        // host (their own checks of it then measure nothing and cannot fail).
        let runner = runner.with(try runner.hostFacts(kernel: kernel) { memory, disk in try Self.check(spec, memory: memory, disk: disk) })
        let (workloads, stress) = spec.workloads.isEmpty && spec.stress.isEmpty ? ([], [])
            : try WorkloadRunner(runner: runner).run(spec.workloads, stress: spec.stress, kernel: kernel, image: image, timeout: limit,
                                                     vcpus: spec.cpus ?? BootRequest.defaultVCPUs, output: output)
        let persistence = spec.persistence.isEmpty ? []
            : try PersistenceRunner(runner: runner).run(spec.persistence, kernel: kernel, image: image, timeout: limit,
                                                        vcpus: spec.cpus ?? BootRequest.defaultVCPUs, output: output)
        let suites = spec.suites.isEmpty ? []
            : try SuiteRunner(runner: runner).run(spec.suites, kernel: kernel, image: image, timeout: limit,
                                                  vcpus: spec.cpus ?? BootRequest.defaultVCPUs, output: output)
        return SpecResults(spec: spec, workloads: workloads, persistence: persistence, stress: stress, suites: suites)
    }
}
