import DaxRigRun
import DaxRigMachine

/// One suite in `daxrig run --json`: its tests as judged, and how its boot ended.
public struct SuiteRow: Codable, Sendable {
    public var name: String
    public var passed: Bool
    public var ended: String?
    public var seconds: Double?
    public var consoleLog: String?
    public var tests: [SuiteTest]

    public init(_ result: SuiteResult) {
        name = result.suite.name
        passed = result.passed
        ended = result.outcome?.name
        seconds = result.seconds
        consoleLog = result.consoleLog
        tests = result.tests
    }
}
