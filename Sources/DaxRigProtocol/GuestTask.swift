/// What `/init workload` runs in one boot (the plan's payload, as JSON): the workloads,
/// then the stress runs, on the same pmem file system.
public struct WorkloadPayload: Codable, Sendable, Equatable {
    public var workloads: [WorkloadSpec]
    public var stress: [StressSpec]

    public init(workloads: [WorkloadSpec], stress: [StressSpec] = []) {
        self.workloads = workloads
        self.stress = stress
    }
}
