/// How a child ended, decoded from a waitpid status.
public enum Termination: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    /// WIFEXITED/WEXITSTATUS/WTERMSIG are macros Swift does not import.
    public init?(waitStatus status: Int32) {
        let low = status & 0x7F
        if low == 0 { self = .exited((status >> 8) & 0xFF) }
        else if low != 0x7F { self = .signaled(low) }
        else { return nil }  // stopped: not a termination
    }

    public var succeeded: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case let .exited(code): return "exited with status \(code)"
        case let .signaled(signal): return "killed by signal \(signal)"
        }
    }
}
