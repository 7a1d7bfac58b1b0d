import DaxRigImage
import DaxRigProtocol
import DaxRigSupport
import Foundation
import Testing
@testable import DaxRigMachine

/// The plan is the first line the host sends on the agent's channel (the initrd is the
/// cached image itself). A host that sends none, or sends something else first, must
/// end the guest with the reason on its console, within the wait the command line
/// gives, and not leave it hanging until the host's timeout or run it without a plan.
/// Bounded by their own waits (150 s each), not `.timeLimit`, which would count the
/// time spent waiting for a test thread (StreamPumpTests says more).
@Suite struct AgentPlanIntegrationTests {
    /// Boots the real kernel and image with the channel open but `first` (or nothing)
    /// as the host's first line; returns the console once the guest has ended itself.
    func boot(sending first: HostMessage?) throws -> (ended: Bool, seconds: Double, console: String, messages: [AgentMessage]) {
        let kernel = try Rig.defaultKernel()
        let image = try ImageBuilder().build(recipe: ImageRecipe.load(path: GuestImageIntegrationTests.recipePath), agent: AgentBinary.locate())
        let directory = try Rig.scratch("plan")
        defer { Files.removeDirectory(directory.path) }
        let log = directory.appendingPathComponent("console.log").path
        _ = LibvirtEventLoop.started
        let connection = try LibvirtConnection()
        let spec = DomainSpec(name: DomainSpec.uniqueName(), accelerator: .tcg, memoryMiB: 512, vcpus: 1, kernel: kernel.bzImage,
                              initrd: image.initramfs, commandLine: GuestRunner.kernelCommandLine(extra: ["\(GuestPlan.channelWaitParameter)=5"]),
                              nvdimms: [], console: .file(log))
        let domain = try connection.createTransient(xml: spec.xml(), paused: true)
        defer { try? connection.destroyDomain(named: spec.name) }
        let started = Date()
        let (agent, pump) = try DomainStreams.attach(domain, consoleLog: nil)
        if let first {
            let writer = agent.writer()
            writer.send(first)
            writer.close()
        }
        // What the agent says on the channel until it closes (the guest powered off).
        var messages: [AgentMessage] = []
        let deadline = Date().addingTimeInterval(150)
        while let message = agent.next(until: deadline) { messages.append(message) }
        let ended = domain.waitUntilStopped(timeout: max(1, deadline.timeIntervalSinceNow))
        let seconds = Date().timeIntervalSince(started)
        pump.stop()
        return (ended, seconds, ConsoleLog.read(log).text, messages)
    }

    @Test func aHostThatSendsNoPlanHearsWhyOnTheConsoleAndTheGuestEnds() throws {
        let run = try boot(sending: nil)
        #expect(run.ended, "the guest still ran after 150 s: \(run.console.suffix(2000))")
        let failure = AgentConsoleLine.lastFailure(in: run.console)
        #expect(failure?.stage == "plan" && failure?.message.contains("no plan from the host on the channel within 5 s") == true,
                "\(run.console.suffix(2000))")
        // Within the command line's 5 s of the agent's start, not the default 60 s nor
        // the host's 150 s; and nothing began: not even `started`, which follows the plan.
        #expect(run.seconds < 45, "ended after \(run.seconds) s")
        #expect(run.messages.contains { if case .failed(stage: "plan", _) = $0 { true } else { false } }, "\(run.messages)")
        #expect(!run.messages.contains { if case .started = $0 { true } else { false } }, "\(run.messages)")
    }

    @Test func aFirstMessageThatIsNotThePlanIsRefusedAndNothingRuns() throws {
        let run = try boot(sending: .input(Data("rm -rf /mnt/pmem\n".utf8)))
        #expect(run.ended, "the guest still ran after 150 s: \(run.console.suffix(2000))")
        let failure = AgentConsoleLine.lastFailure(in: run.console)
        #expect(failure?.stage == "plan" && failure?.message.contains("the host's first message was not the plan") == true,
                "\(run.console.suffix(2000))")
        #expect(!run.messages.contains { if case .started = $0 { true } else { false } }, "\(run.messages)")
        #expect(!run.messages.contains { if case .step(name: "command", _, _) = $0 { true } else { false } }, "\(run.messages)")
    }
}
