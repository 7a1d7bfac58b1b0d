
import DaxRigMachine
/// Test statuses as KernelCI (KCIDB) has them, worst first: FAIL > ERROR > MISS >
/// PASS > DONE > SKIP. A broken boot or a libvirt failure is never a FAIL: the
/// kernel under test did not get to show anything.
public enum TestStatus: String, Sendable, Codable, CaseIterable, Comparable {
    /// The kernel did the wrong thing: an expectation failed, or it crashed under test.
    case fail = "FAIL"
    /// The test could not complete: the agent or the host failed, or it hung.
    case error = "ERROR"
    /// The test did not run: the guest never booted.
    case miss = "MISS"
    case pass = "PASS"
    /// Ran, with nothing to judge.
    case done = "DONE"
    case skip = "SKIP"

    /// A status this daxrig does not know (a newer daxrig's store or JSON, a hand edit)
    /// reads as ERROR: never a pass, never a row that refuses a whole listing.
    public init(from decoder: any Decoder) throws {
        self = TestStatus(rawValue: try decoder.singleValueContainer().decode(String.self)) ?? .error
    }

    /// FAIL or ERROR: what a run reports as failed (MISS never ran).
    public var isFailure: Bool { self == .fail || self == .error }

    /// Worse statuses compare greater, so `max()` of a run's statuses is its status.
    public static func < (lhs: TestStatus, rhs: TestStatus) -> Bool {
        allCases.firstIndex(of: lhs)! > allCases.firstIndex(of: rhs)!
    }

    /// The status of a run that gave no report, from how its boot ended.
    public init(noReportAfter outcome: BootOutcome?) {
        switch outcome {
        case .kernelCrash: self = .fail
        case .bootFailure: self = .miss
        case .timeout, .agentFailure, .infrastructure, .commandExited, nil: self = .error
        }
    }
}
