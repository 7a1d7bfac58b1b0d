import DaxRigProtocol
import Foundation
import Testing
@testable import DaxRigMachine

/// The agent's failures that the results channel cannot carry: it writes them on the
/// serial console ("the host learns of this failure from the serial log"), and the host
/// must read them there. It did not: a guest whose agent found no channel ended as "the
/// guest stopped before the agent started", with the reason left in the console's tail.
@Suite struct AgentConsoleFailureTests {
    static let noChannel = "no virtio-serial port named org.daxrig.agent after 10 s (ports: none); the domain needs a <channel>"

    static func classify(_ outcome: BootOutcome, console: String, session: AgentSession = AgentSession()) throws -> BootOutcome {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("daxrig-console-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("console.log").path
        try Data(console.utf8).write(to: URL(fileURLWithPath: log))
        return GuestRunner.classify(outcome, session: session, consoleLog: log, directory: directory, accelerator: .tcg,
                                   phases: [], kernel: "/nonexistent/bzImage").outcome
    }

    /// As a serial console has it: printk's lines with timestamps, the agent's own, "\r\n".
    static func console(_ agentLines: [String]) -> String {
        (["[    0.912345] Run /init as init process"] + agentLines.map { AgentConsoleLine.prefix + $0 }
            + ["[   11.204000] reboot: Power down"]).joined(separator: "\r\n") + "\r\n"
    }

    @Test func aFailureBeforeTheChannelIsTheAgentsFailureAtItsStage() throws {
        let text = Self.console([AgentConsoleLine.failure(stage: "channel", message: Self.noChannel),
                                 "no results channel: the host reads this failure from the serial log"])
        let outcome = try Self.classify(AgentSession().silentEnding, console: text)
        #expect(outcome == .agentFailure(stage: "channel", message: Self.noChannel))
        #expect(outcome.exitStatus == BootOutcome.Code.agentFailure)
    }

    /// The channel lost midway (the agent says so and goes on on the console): the
    /// stage the agent named, not the host's guess at its phase.
    @Test func aFailureAfterTheChannelWasLostIsReadFromTheConsoleToo() throws {
        let text = Self.console(["results channel org.daxrig.agent stopped taking data; messages follow here",
                                 AgentConsoleLine.failure(stage: "pmem", message: "mkfs.xfs failed (exit 1):\n  agsize too small\n  usage: mkfs.xfs")])
        var session = AgentSession()
        session.release = "6.1.0"
        session.phase = "command"
        let outcome = try Self.classify(session.silentEnding, console: text, session: session)
        #expect(outcome == .agentFailure(stage: "pmem", message: "mkfs.xfs failed (exit 1):\n  agsize too small\n  usage: mkfs.xfs"))
    }

    /// A kernel crash outranks what the agent said: it is why the agent failed.
    @Test func aKernelCrashStillOutranksTheAgentsLine() throws {
        let text = Self.console([AgentConsoleLine.failure(stage: "channel", message: Self.noChannel)])
            + "[   11.300000] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\r\n"
        let outcome = try Self.classify(AgentSession().silentEnding, console: text)
        guard case .bootFailure(let reason, _) = outcome else { Issue.record("\(outcome)"); return }
        #expect(reason.contains("Kernel panic"))
    }

    /// Only a silent ending is read so: an outcome the host decided itself (its own
    /// channel failing, an infrastructure error) stays, whatever the console says.
    @Test func anOutcomeTheHostDecidedIsNotOverridden() throws {
        let text = Self.console([AgentConsoleLine.failure(stage: "plan", message: "no plan")])
        #expect(try Self.classify(.infrastructure("cannot read the agent's channel"), console: text) == .infrastructure("cannot read the agent's channel"))
    }

    /// No agent line: the ending stays what it was, with the console's tail.
    @Test func withoutAnAgentLineASilentEndingStaysABootFailure() throws {
        let outcome = try Self.classify(AgentSession().silentEnding, console: Self.console(["started"]))
        guard case .bootFailure(let reason, let excerpt) = outcome else { Issue.record("\(outcome)"); return }
        #expect(reason == "the guest stopped before the agent started")
        #expect(excerpt.contains("reboot: Power down"))
    }

    /// What only looks like the agent's line: a command's output echoed on the console
    /// without the prefix, or the prefix with no stage, is not taken for it.
    @Test func linesThatOnlyLookLikeTheAgentsAreNotTakenForIt() {
        #expect(AgentConsoleLine.lastFailure(in: "FAILED at channel: x\n") == nil)
        #expect(AgentConsoleLine.lastFailure(in: AgentConsoleLine.prefix + "FAILED at : x\n") == nil)
        #expect(AgentConsoleLine.lastFailure(in: AgentConsoleLine.prefix + "FAILED at two words: x\n") == nil)
        #expect(AgentConsoleLine.lastFailure(in: "") == nil)
        let twice = Self.console([AgentConsoleLine.failure(stage: "a", message: "first"), AgentConsoleLine.failure(stage: "b", message: "second")])
        #expect(AgentConsoleLine.lastFailure(in: twice).map { [$0.stage, $0.message] } == ["b", "second"])
    }
}
