import Foundation

/// How one guest boot ended. Each case has its own exit status, so scripts (and a
/// bisect) can tell a failed command from a broken kernel from a broken host.
public enum BootOutcome: Sendable, Equatable, CustomStringConvertible {
    /// The command ran and exited (0 is success); `signal` when a signal killed it.
    case commandExited(status: Int32, signal: Int32?)
    /// The kernel panicked, oopsed or hit a BUG; the finding has the console excerpt.
    case kernelCrash(ConsoleFinding)
    /// The guest stopped before the agent said it started (kernel or initramfs broken).
    case bootFailure(reason: String, excerpt: String)
    /// The agent started but could not do its part (pmem setup, plan), in `stage`.
    case agentFailure(stage: String, message: String)
    /// Nothing ended within the timeout; the domain was destroyed.
    case timeout(seconds: Double, lastPhase: String)
    /// libvirt, QEMU or the host failed; no verdict about the kernel.
    case infrastructure(String)

    /// Exit statuses daxrig uses for outcomes other than the command's own status.
    public enum Code {
        public static let kernelCrash: Int32 = 110
        public static let bootFailure: Int32 = 111
        public static let agentFailure: Int32 = 112
        public static let timeout: Int32 = 124
        public static let infrastructure: Int32 = 125
    }

    public var exitStatus: Int32 {
        switch self {
        case let .commandExited(status, _): status
        case .kernelCrash: Code.kernelCrash
        case .bootFailure: Code.bootFailure
        case .agentFailure: Code.agentFailure
        case .timeout: Code.timeout
        case .infrastructure: Code.infrastructure
        }
    }

    /// Whether this outcome's message already carries `finding` (a crash it is about,
    /// or the panic that ended a failed boot).
    public func shows(_ finding: ConsoleFinding) -> Bool {
        switch self {
        case let .kernelCrash(crash): crash == finding
        case .bootFailure: finding.kind.isCrash
        default: false
        }
    }

    public var name: String {
        switch self {
        case let .commandExited(status, _): status == 0 ? "passed" : "command-failed"
        case .kernelCrash: "kernel-crash"
        case .bootFailure: "boot-failure"
        case .agentFailure: "agent-failure"
        case .timeout: "timeout"
        case .infrastructure: "infrastructure"
        }
    }

    public var description: String {
        switch self {
        case let .commandExited(status, signal?):
            return "the command was killed by signal \(signal) (status \(status))"
        case let .commandExited(status, nil):
            return status == 0 ? "the command exited 0" : "the command failed with status \(status)"
        case let .kernelCrash(finding):
            return "kernel \(finding.kind.rawValue) (console line \(finding.line)):\n\(finding.excerpt)"
        case let .bootFailure(reason, excerpt):
            return "the guest did not boot to the agent: \(reason)" + (excerpt.isEmpty ? "" : "\nlast console lines:\n\(excerpt)")
        case let .agentFailure(stage, message):
            return "the guest agent failed at \(stage): \(message)"
        case let .timeout(seconds, lastPhase):
            return String(format: "timed out after %.0f s (last phase: %@); the domain was destroyed", seconds, lastPhase)
        case let .infrastructure(message):
            return "infrastructure failure (no verdict on the kernel): \(message)"
        }
    }
}
