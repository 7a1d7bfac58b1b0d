import DaxRigRun
import DaxRigSupport

extension ExitStatus {
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
