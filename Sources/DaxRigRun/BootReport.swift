import Foundation
import DaxRigMachine

/// A boot's result as JSON: what `daxrig boot --json` prints and later stages store.
public struct BootReport: Codable, Sendable, Equatable {
    public struct Phase: Codable, Sendable, Equatable {
        public var name: String
        public var seconds: Double
    }

    public var outcome: String
    public var exitStatus: Int32
    public var message: String
    public var findings: [ConsoleFinding]
    public var phases: [Phase]
    public var accelerator: String
    public var kernelRelease: String?
    public var pmemMountOptions: String?
    public var consoleLog: String?

    public init(_ result: BootResult) {
        outcome = result.outcome.name
        exitStatus = result.outcome.exitStatus
        message = result.outcome.description
        findings = result.findings
        phases = result.phases.map { Phase(name: $0.0, seconds: $0.1) }
        accelerator = result.accelerator
        kernelRelease = result.kernelRelease
        pmemMountOptions = result.pmemMountOptions
        consoleLog = result.consoleLog
    }
}
