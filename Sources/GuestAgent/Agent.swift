import DaxRigProtocol
import GuestCore
import FoundationEssentials
import Glibc

/// The guest's PID 1: mount, report, prepare pmem, run the plan's command, power off.
///
/// PID 1 must never exit (the kernel panics) and must never leave the guest hanging:
/// every path, failures included, ends in `PowerOff.now`.
final class Agent {
    private let console: Console
    private var channel: Channel?
    /// The plan's choice, once read: a failure before that powers off cleanly.
    private var abruptPowerOff = false

    init(console: Console) {
        self.console = console
    }

    func run() -> Never {
        // A closed channel or pipe must give EPIPE, not kill init.
        signal(SIGPIPE, SIG_IGN)
        do {
            try boot()
        } catch let failure as AgentFailure {
            fail(failure)
        } catch {
            fail(AgentFailure("agent", "\(error)"))
        }
        PowerOff.now(channel: channel, console: console, abrupt: abruptPowerOff)
    }

    private func boot() throws {
        let mountStarted = Clock.now()
        let mounted = try Mounts.mountEarly()
        Console.ensureStandardDescriptors()
        let mountSeconds = Clock.now() - mountStarted
        // Kernel boot vs. waiting for the channel, when `started` comes late.
        let mountedAt = Clock.uptime()

        // The plan comes first on the channel, within one wait for both (so the guest
        // says why before the host's deadline); a channel or a plan that does not come
        // fails on the console, which the host reads too.
        let wait = Self.channelWait()
        let deadline = Clock.now() + wait
        let channel = try Channel.open(console: console, wait: wait)
        self.channel = channel
        let (plan, seed) = try receivePlan(on: channel, wait: wait, until: deadline)
        abruptPowerOff = plan.abruptPowerOff
        var name = utsname()
        uname(&name)
        let release = withUnsafePointer(to: &name.release) {
            String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
        }
        channel.send(.started(uptime: Clock.uptime(), kernelRelease: release))
        channel.send(.step(name: "mount-early", detail: mounted.joined(separator: ", ") + "; at uptime \(mountedAt) s",
                           seconds: mountSeconds))

        waitForRandomPool(seed: seed, channel: channel)
        if plan.pmem.fileSystem != .none {
            var preparer = PmemPreparer(setup: plan.pmem) { channel.send($0) }
            preparer.awaitHost = { channel.awaitProceed(timeout: 120) }
            let ready = try preparer.prepare()
            channel.send(.pmemReady(device: ready.device, mountPoint: ready.mountPoint, mountOptions: ready.mountOptions))
        }
        try Shares.mount(plan.shares, channel: channel)
        if plan.command.isEmpty {
            // A boot-and-prepare-only plan: that much succeeded, and the host still gets
            // the verdict message it waits for.
            channel.send(.step(name: "command", detail: "the plan has no command", seconds: 0))
            channel.send(.exited(status: 0, signal: nil, seconds: 0))
        } else {
            try runCommand(plan, channel: channel)
        }
    }

    /// The tools need random bytes: ndctl and mkfs make UUIDs, and libuuid retries a
    /// not-yet-ready getrandom for a second per UUID (ndctl took 5.5 s that way). The
    /// host's seed makes the CRNG ready at once; the blocking read of /dev/random after
    /// it proves that, and is the wait when there is no seed.
    private func waitForRandomPool(seed: [UInt8], channel: Channel) {
        let started = Clock.now()
        let seeded = EntropySeed.credit(seed)
        let fd = open("/dev/random", O_RDONLY | O_CLOEXEC)
        var byte: UInt8 = 0
        if fd >= 0 {
            while read(fd, &byte, 1) < 0 && errno == EINTR {}
            close(fd)
        }
        let seconds = Clock.now() - started
        channel.send(.step(name: "random", detail: seconds > 0.05
            ? "\(seeded); waited for the kernel's random pool (CRNG)"
            : "\(seeded); kernel random pool ready", seconds: seconds))
    }

    /// The host's `daxrig.channel_wait=SECONDS` from the kernel's command line.
    static func channelWait() -> Double {
        let words = ((try? FileIO.readText("/proc/cmdline")) ?? "").split(whereSeparator: \.isWhitespace)
        let prefix = GuestPlan.channelWaitParameter + "="
        guard let word = words.last(where: { $0.hasPrefix(prefix) }), let seconds = Double(word.dropFirst(prefix.count)),
              seconds > 0 else { return GuestPlan.defaultChannelWait }
        return seconds
    }

    /// The plan the host sends first on the channel, left at `GuestPlan.path` for the
    /// agent's own tasks, which read it there; the seed goes to the CRNG only.
    private func receivePlan(on channel: Channel, wait: Double, until deadline: Double) throws -> (GuestPlan, [UInt8]) {
        let line = try staged("plan") { try channel.receiveLine(timeout: max(0, deadline - Clock.now())) }
        guard let line else {
            throw AgentFailure("plan", "no plan from the host on the channel within \(Int(wait)) s "
                + "(the host sends it as soon as the channel opens: was daxrig's side gone?)")
        }
        let message: HostMessage
        do {
            message = try HostMessage.decode(line: line)
        } catch {
            throw AgentFailure("plan", "the host's first line is not a message this agent understands (\(error)); "
                + "rebuild the image so host and agent share one DaxRigProtocol")
        }
        guard case let .plan(plan, seed) = message else {
            throw AgentFailure("plan", "the host's first message was not the plan: \(String(describing: message).prefix(200))")
        }
        // The plan alone: the seed must not be found by a command in the guest.
        try staged("plan") {
            try FileIO.makeDirectories(String(GuestPlan.path[..<GuestPlan.path.lastIndex(of: "/")!]))
            try FileIO.write(Array(try JSONEncoder().encode(plan)), to: GuestPlan.path, stage: "plan")
        }
        return (plan, Array(seed))
    }

    private func runCommand(_ plan: GuestPlan, channel: Channel) throws {
        // Tells the host the command phase began, pmem or not (a timeout names it).
        channel.send(.step(name: "command", detail: plan.command.joined(separator: " "), seconds: 0))
        try staged("command") { try FileIO.makeDirectories(GuestPlan.reportsDirectory) }
        let environment = ChildProcess.environment(adding: [GuestPlan.reportsEnvironmentVariable: GuestPlan.reportsDirectory]
            .merging(plan.environment) { _, planned in planned })
        let (termination, seconds): (Termination, Double)
        if let terminal = plan.terminal {
            var shell = environment
            shell["TERM"] = terminal.term
            shell["HOME"] = "/root"
            shell["PS1"] = shell["PS1"] ?? "daxrig:\\w# "
            (termination, seconds) = try TerminalSession.run(plan.command, spec: terminal, environment: shell,
                                                             directory: plan.pmem.fileSystem == .none ? "/" : plan.pmem.mountPoint,
                                                             channel: channel)
        } else {
            (termination, seconds) = try ChildProcess.run(plan.command, environment: environment, stage: "command") { stream, bytes in
                channel.send(.output(stream: stream, data: Data(bytes)))
            }
        }
        sendReports(channel: channel)
        switch termination {
        case let .exited(code):
            channel.send(.exited(status: code, signal: nil, seconds: seconds))
        case let .signaled(signal):
            // The shell's convention, so a status alone still says "killed".
            channel.send(.exited(status: 128 + signal, signal: signal, seconds: seconds))
        }
    }

    /// Reports go out before `exited`: the host stops listening at the verdict.
    private func sendReports(channel: Channel) {
        let directory = GuestPlan.reportsDirectory
        for name in FileIO.listDirectory(directory) {
            var info = stat()
            guard stat("\(directory)/\(name)", &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            do {
                channel.send(.report(name: name, text: try FileIO.readText("\(directory)/\(name)")))
            } catch {
                channel.send(.step(name: "report", detail: "could not read report \(name): \(error)", seconds: 0))
            }
        }
    }

    private func fail(_ failure: AgentFailure) {
        console.say(AgentConsoleLine.failure(stage: failure.stage, message: failure.message))
        if let channel {
            channel.send(.failed(stage: failure.stage, message: failure.message))
        } else {
            console.say("no results channel: the host reads this failure from the serial log")
        }
    }
}
