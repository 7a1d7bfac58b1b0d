import Foundation

/// A boot's result as JSON: what `daxrig boot --json` prints and later stages store.
public struct BootReport: Codable, Sendable, Equatable {
    public typealias Phase = BootPhase

    public var outcome: String
    public var exitStatus: Int32
    public var message: String
    public var findings: [ConsoleFinding]
    public var phases: [Phase]
    public var accelerator: String
    public var kernelRelease: String?
    public var pmemMountOptions: String?
    public var consoleLog: String?
    /// The crashed guest's kdump-compressed memory (`--dump-on-crash`), when one was taken.
    public var vmcore: String?

    public init(_ result: BootResult) {
        outcome = result.outcome.name
        exitStatus = result.outcome.exitStatus
        message = result.outcome.description
        findings = result.findings
        phases = result.phases
        accelerator = result.accelerator
        kernelRelease = result.kernelRelease
        pmemMountOptions = result.pmemMountOptions
        consoleLog = result.consoleLog
        vmcore = result.vmcore
    }
}
