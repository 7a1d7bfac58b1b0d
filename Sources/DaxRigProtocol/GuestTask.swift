/// What the agent's own code runs in one boot, as a typed part of the plan: the host
/// encodes it once with the plan and the guest decodes it once with the plan, so a
/// task cannot reach the guest as text that only the guest would find malformed.
public enum GuestTask: Codable, Sendable, Equatable {
    /// `/init workload`: the workloads, then the stress runs, on one pmem file system.
    case workload(WorkloadPayload)
    /// `/init persist write|verify`: one boot of a persistence check per phase, on the
    /// same backing file.
    case persist(PersistenceReport.Phase, [PersistenceSpec])

    /// The task's kind, for messages: "workload", "persist write", "persist verify".
    public var name: String { command.dropFirst().joined(separator: " ") }

    /// The plan's command that runs the task: the agent binary, started again as a
    /// child of PID 1 with the task's name (GuestAgent/main.swift dispatches on it).
    public var command: [String] {
        switch self {
        case .workload: ["/init", "workload"]
        case let .persist(phase, _): ["/init", "persist", phase.rawValue]
        }
    }
}

/// The workloads and stress runs of one `/init workload` boot.
public struct WorkloadPayload: Codable, Sendable, Equatable {
    public var workloads: [WorkloadSpec]
    public var stress: [StressSpec]

    public init(workloads: [WorkloadSpec], stress: [StressSpec] = []) {
        self.workloads = workloads
        self.stress = stress
    }
}
