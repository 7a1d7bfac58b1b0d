import DaxRigProtocol
import DaxRigSupport
import Foundation

/// What the agent said in one boot: read until it says it is powering off (it has
/// synced and unmounted by then, so the domain can be destroyed at once), the channel
/// closes, or time is up.
struct AgentSession {
    var release: String?
    var reports: [(name: String, text: String)] = []
    var mountOptions: String?
    /// How the session ended, when the agent, the console (ConsoleWatch) or the clock said so.
    var outcome: BootOutcome?
    /// The kernel report that ended the session because the guest could not go on
    /// (ConsoleWatch); the domain is still there, halted or stuck.
    var consoleStop: ConsoleFinding?
    /// What the guest was doing last, for a timeout's message.
    var phase = "kernel boot"
    /// The agent offered its formatted pmem as a template (at most once is taken).
    var formattedSeen = false

    /// The ending of a session that closed without a verdict: the guest died, or never
    /// reached init.
    var silentEnding: BootOutcome {
        release == nil
            ? .bootFailure(reason: "the guest stopped before the agent started", excerpt: "")
            : .agentFailure(stage: phase, message: "the guest stopped without reporting (see the console log)")
    }

    static func read(_ agent: AgentConnection, until deadline: Date, timeout: Double, watch: ConsoleWatch, clock: inout PhaseClock,
                     progress: ProgressSink, formatted: (() -> Void)? = nil,
                     output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) -> AgentSession {
        var session = AgentSession()
        var watch = watch
        var lastMessage = Date()
        reading: while true {
            if let stop = watch.decided(lastMessage: lastMessage) {
                progress.phase("kernel", "\(stop.kind.rawValue) at console line \(stop.line) during \(session.phase): "
                    + "\(stop.excerpt.prefix { !$0.isNewline }); the guest cannot go on, ending the boot")
                // Before the agent started, the kernel never got the guest up: a boot failure.
                session.outcome = session.release == nil
                    ? .bootFailure(reason: String(stop.excerpt.prefix { !$0.isNewline }), excerpt: stop.excerpt)
                    : .kernelCrash(stop)
                session.consoleStop = stop
                break
            }
            // Back at least once a second, so the console is watched while the agent is silent.
            guard let message = agent.next(until: min(deadline, Date().addingTimeInterval(1))) else {
                if agent.closed { break }
                if Date() < deadline { continue }
                session.outcome = .timeout(seconds: timeout, lastPhase: session.phase)
                break
            }
            lastMessage = Date()
            switch message {
            case let .started(_, kernelRelease):
                session.release = kernelRelease
                clock.lap(.kernel)
                session.phase = "agent setup"
                progress.phase("agent", "started on \(kernelRelease)")
            case let .step(name, detail, _):
                if name == "command" { session.phase = "command" }
                progress.phase(name, detail)
            case .pmemFormatted:
                // Once, and only before the pmem is mounted: a guest that says it later
                // (or again) has written to what would become every later boot's pmem.
                if session.phase == "agent setup", !session.formattedSeen { formatted?() }
                session.formattedSeen = true
            case let .pmemReady(device, mountPoint, options):
                session.mountOptions = options
                clock.lap(.pmem)
                session.phase = "command"
                progress.phase("pmem", "\(device) on \(mountPoint) (\(options))")
            case let .output(stream, data):
                output(stream, data)
            case let .exited(status, signal, _):
                clock.lap(.command)
                session.phase = "power-off"
                session.outcome = .commandExited(status: status, signal: signal)
            case let .failed(stage, message):
                if session.outcome == nil { session.outcome = .agentFailure(stage: stage, message: message) }
            case let .report(name, text):
                session.reports.append((name, text))
            case .poweringOff:
                break reading
            }
        }
        return session
    }
}
