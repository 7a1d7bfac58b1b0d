import DaxRigMachine
import Foundation

/// One test of a suite as daxrig judged it: its path within the suite ("mremap_test",
/// "mremap_test.2GB_mremap_-_Source_PUD-aligned"), a KernelCI status, and the
/// diagnostics behind it.
public struct SuiteTest: Sendable, Equatable, Codable {
    public var path: String
    public var status: TestStatus
    public var detail: String

    public init(path: String, status: TestStatus, detail: String) {
        self.path = path
        self.status = status
        self.detail = detail
    }
}

/// What one suite's boot gave.
public struct SuiteResult: Sendable {
    public var suite: SuiteSpec
    /// Every test, nested ones as dotted paths, in the order they ran; then the suite's
    /// own checks (`ktap` when its output was not sound KTAP, `kernel-log-clean`).
    public var tests: [SuiteTest]
    /// How the boot ended.
    public var outcome: BootOutcome?
    public var consoleLog: String?
    public var seconds: Double?
    /// The boot's teardown kept a report of sorts: the suite printed anything at all.
    public var printed: Bool

    public init(suite: SuiteSpec, tests: [SuiteTest], outcome: BootOutcome?, consoleLog: String? = nil, seconds: Double? = nil, printed: Bool = true) {
        self.suite = suite
        self.tests = tests
        self.outcome = outcome
        self.consoleLog = consoleLog
        self.seconds = seconds
        self.printed = printed
    }

    /// Every test ran and none failed (SKIP and DONE are not failures; MISS did not run).
    public var passed: Bool { !tests.isEmpty && tests.allSatisfy { !$0.status.isFailure && $0.status != .miss } }

    /// Counts per status, in KernelCI's order, for tables: "12 PASS, 3 SKIP, 1 FAIL".
    public var counts: [(TestStatus, Int)] {
        TestStatus.allCases.compactMap { status in
            let count = tests.count { $0.status == status }
            return count == 0 ? nil : (status, count)
        }
    }
}
