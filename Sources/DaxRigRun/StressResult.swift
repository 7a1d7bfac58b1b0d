import DaxRigProtocol
import DaxRigMachine

/// One stress run's outcome: the guest's report (when it got that far), and its mapping
/// phase as a workload's result, which carries the verdicts and how the boot ended.
public struct StressResult: Sendable {
    public var stress: StressCase
    public var report: StressReport?
    /// The mapping phase as a workload's result, with the stress run's verdicts, error,
    /// outcome and console log: the page-table figures, table columns and stored
    /// metrics come from the workloads' code.
    public var mapping: WorkloadResult

    public var verdicts: [Verdict] { mapping.verdicts }
    /// Why there is no report, and its boot's kept console log.
    public var error: String? { mapping.error }
    public var consoleLog: String? { mapping.consoleLog }
    public var passed: Bool { mapping.passed }

    public init(stress: StressCase, report: StressReport?, verdicts: [Verdict], error: String?, outcome: BootOutcome? = nil,
                consoleLog: String? = nil, bootSeconds: Double? = nil) {
        self.stress = stress
        self.report = report
        mapping = WorkloadResult(workload: stress.mapping, report: report?.mapping, verdicts: verdicts, error: error, outcome: outcome,
                                 consoleLog: consoleLog, bootSeconds: bootSeconds)
    }
}
