/// daxrig's exit statuses, the same for every command that runs or judges tests, so a
/// CI job or a cron wrapper can tell a kernel problem from a rig problem.
public enum ExitStatus: Int32, Sendable, Codable {
    /// Every expectation held.
    case passed = 0
    /// A test failed, or a new failure reproduced (a regression).
    case failed = 1
    /// Bad usage or input: a file, an option, a run not in the store.
    case badInput = 2
    /// The rig failed: a boot never came up, the agent, libvirt or the host failed.
    /// (A kernel that does not build is `failed`: KernelBuildError.makeFailed.)
    case infrastructure = 3
}

/// An error that knows which exit status it means, so the CLI maps errors to statuses
/// without knowing their types: 2 for what the user can fix (an input, an option, a
/// file), 3 for what the rig or host failed at, 1 for a kernel that did not build.
public protocol RigError: Error, CustomStringConvertible {
    var exitStatus: ExitStatus { get }
}
