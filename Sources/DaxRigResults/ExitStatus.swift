/// daxrig's exit statuses, the same for every command that runs or judges tests, so a
/// CI job or a cron wrapper can tell a kernel problem from a rig problem.
public enum ExitStatus: Int32, Sendable, Codable {
    /// Every expectation held.
    case passed = 0
    /// A test failed, or a new failure reproduced (a regression).
    case failed = 1
    /// Bad usage or input: a file, an option, a run not in the store.
    case badInput = 2
    /// The rig failed: a boot never came up, the agent, libvirt or the host failed, a
    /// kernel did not build.
    case infrastructure = 3

    /// The status of a set of subtest results. A FAIL wins over infrastructure trouble
    /// elsewhere: it is a finding about the kernel, and the report names the rest.
    public static func of(_ statuses: some Sequence<TestStatus>) -> ExitStatus {
        var worst = ExitStatus.passed
        for status in statuses {
            switch status {
            case .fail: return .failed
            case .error, .miss: worst = .infrastructure
            case .pass, .done, .skip: break
            }
        }
        return worst
    }
}
