import DaxRigImage
import DaxRigProtocol
import DaxRigSupport
import Foundation

/// One boot, step by step: the run's inputs prepared, the domain started (again, when
/// QEMU exits while starting), the agent's session read, and the ending classified
/// against the console. A step that fails ends the boot as an infrastructure outcome
/// naming its error; only `run` knows the steps' order.
extension GuestRunner {
    func run(_ request: BootRequest, image: GuestImage, additions: Data = Data(), builtIn: Set<String>?, in directory: URL,
             output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) -> BootResult {
        let consoleLog = directory.appendingPathComponent("console.log").path
        var clock = PhaseClock()
        // Another host's is decided there, once its connection is open (below).
        var accelerator = host?.accelerator ?? (request.host != nil ? .tcg : Accelerator.choose(kernel: request.kernel, cache: cache))
        func finish(_ outcome: BootOutcome, _ session: AgentSession = AgentSession()) -> BootResult {
            Self.classify(outcome, session: session, consoleLog: consoleLog, directory: directory, accelerator: accelerator, phases: clock.phases,
                          kernel: request.kernel)
        }

        let backing: [String], initrd: String
        var request = request
        request.plan.shares = request.shares.enumerated().map { index, share in
            ShareMount(tag: ShareMount.tag(index), guestPath: share.guest, readOnly: share.readOnly)
        }
        let templates = PmemTemplates(cache: cache)
        let templateKey = request.host != nil ? nil : request.pmemSizes.first.flatMap {
            PmemTemplates.key(for: request, image: image, nvdimm: NvdimmSpec(backingFile: "", sizeBytes: $0))
        }
        do {
            (backing, initrd) = try prepare(&request, image: image, additions: additions, in: directory,
                                            template: templateKey.map { ($0, templates) })
        } catch {
            return finish(.infrastructure("preparing the run in \(directory.path): \(error)"))
        }
        let connection: LibvirtConnection
        do {
            // Streams need the event loop, and it must run before the connection opens.
            _ = LibvirtEventLoop.started
            connection = try LibvirtConnection(uri: request.host ?? LibvirtConnection.defaultURI)
            if request.host != nil { connection.keepAlive() }
            if request.host != nil, host == nil {
                accelerator = Accelerator.choose(on: connection, kernel: request.kernel, cache: cache, progress: progress)
            }
        } catch {
            request.host.map(HostLoss.mark)
            return finish(.infrastructure("\(error)"))
        }
        let name = DomainSpec.uniqueName()
        // Before staging: Ctrl-C while volumes go up removes them too (by the boot's prefix).
        let release = request.host.map { _ in
            Cleanup.shared.add("remove the boot's volumes on \(connection.uri)") { RemoteBoot.release(domain: name, on: connection) }
        }
        defer { release.map { Cleanup.shared.run($0) } }
        var remote: RemoteBoot?
        if request.host != nil {
            do {
                remote = try RemoteBoot(connection: connection, domain: name, kernel: request.kernel, initrd: initrd, image: image.initramfs,
                                        pmemSizes: request.pmemSizes, pmem: request.pmemBackingFiles, cache: cache, progress: progress)
            } catch {
                if !connection.isAlive { request.host.map(HostLoss.mark) }
                return finish(.infrastructure("staging the boot on \(connection.uri): \(error)"))
            }
        }
        clock.lap(.prepare)
        var spec = DomainSpec(
            name: name, accelerator: accelerator, memoryMiB: request.memoryMiB, vcpus: request.vcpus,
            kernel: remote?.kernel ?? request.kernel, initrd: remote?.initrd ?? initrd,
            commandLine: Self.kernelCommandLine(extra: (request.gdb == nil ? [] : ["nokaslr"]) + [Self.channelWait(request)] + request.extraKernelArguments,
                                                haltOnPanic: request.dumpOnCrash || request.gdb != nil),
            nvdimms: zip(remote?.pmem ?? backing, request.pmemSizes).map { NvdimmSpec(backingFile: $0.0, sizeBytes: $0.1) },
            console: remote.map { .pty(log: $0.consoleLog) } ?? .file(consoleLog))
        spec.gdb = request.gdb
        spec.vmcoreInfo = request.dumpOnCrash
        spec.shares = request.shares.enumerated().map { index, share in
            let (transport, why) = HostShare.transport(for: share, builtIn: builtIn)
            if let why { progress.phase("share", "\(share.host) over 9p: \(why)") }
            return DomainShare(source: share.host, tag: ShareMount.tag(index), readOnly: share.readOnly, transport: transport)
        }
        progress.phase("boot", "\(spec.name): \(accelerator.rawValue), \(request.memoryMiB) MiB, pmem \(request.pmemSizes.map { "\($0 >> 20) MiB" }.joined(separator: " + "))")
        let deadline = Date().addingTimeInterval(request.timeout)

        // Registered before the start, by name: Ctrl-C may come while libvirt is still
        // starting the domain, before there is a handle to destroy.
        let destroy = Cleanup.shared.add("destroy domain \(spec.name)") { [name = spec.name] in
            try? connection.destroyDomain(named: name)
        }
        defer { Cleanup.shared.run(destroy) }
        let domain: LibvirtDomain
        do { domain = try start(spec, builtIn: builtIn, on: connection) } catch { return finish(.infrastructure("\(error)")) }
        clock.lap(.start)
        let stops = DomainStopWatch.watch(domain)
        defer { stops?.stop() }

        let agent: AgentConnection
        let pump: StreamPump
        do {
            // The console is a stream where the domain's is a pty: the spec says so, once.
            let streamed: String? = if case .pty = spec.console { consoleLog } else { nil }
            (agent, pump) = try DomainStreams.attach(domain, consoleLog: streamed, resume: !(spec.gdb?.wait ?? false))
        } catch { return finish(.infrastructure("\(error)")) }
        // The plan first, which the agent waits for before anything else it does.
        guard agent.send(.plan(request.plan)) else {
            pump.stop(within: 0)
            return finish(.infrastructure("the plan could not be sent on the channel of \(spec.name): its stream ended before the guest ran"))
        }
        let feeder = request.terminalInput.map { TerminalFeeder(input: $0, writer: agent.writer()) }
        // The agent formatted the first nvdimm and waits: keep the template, then let it go on.
        let formatted: (() -> Void)? = templateKey.map { key in {
            let started = Date()
            do {
                try templates.keep(key, from: backing[0])
                let elapsed = Date().timeIntervalSince(started)
                let seconds = String(format: "%.2f", elapsed)
                if elapsed > 60 {
                    // The agent goes on by itself after 120 s: a copy that slow may have raced its mount.
                    templates.discard(key)
                    progress.phase("template", "not kept: the copy took \(seconds) s")
                } else {
                    progress.phase("template", "kept the formatted pmem for the next boots of this kernel (\(seconds) s)")
                }
            } catch {
                progress.phase("template", "not kept: \(error)")
            }
            _ = agent.send(.proceed)
        } }
        let session = AgentSession.read(agent, until: deadline, timeout: request.timeout, watch: ConsoleWatch(path: consoleLog), clock: &clock,
                                        progress: progress, formatted: formatted, output: output)
        feeder?.stop()
        var outcome = session.outcome ?? session.silentEnding
        // The guest went silent because QEMU died under it: nothing was said about the kernel.
        if session.outcome == nil, stops?.emulatorDied(within: 3) == true {
            outcome = .infrastructure("QEMU died under \(spec.name) during \(session.phase) (libvirt: stopped, failed: the emulator crashed or was "
                + "killed, not the guest) on \(connection.uri); this is no verdict on the kernel: boot again"
                + (request.host == nil ? " (QEMU's own log: /var/log/libvirt/qemu/\(spec.name).log)" : ""))
        }
        // A host lost mid-boot is no verdict on the kernel, whatever the session got to.
        if let lost = pump.failures.withLock({ $0.first }), !Self.streamEndedWithItsDomain(domain, on: connection) {
            // A stream's own error on a host that still answers is this boot's, not the host's.
            if !connection.isAlive { request.host.map(HostLoss.mark) }
            outcome = .infrastructure("\(lost) (\(connection.uri)) during the boot of \(spec.name): " + (request.host == nil
                ? "libvirtd here carries the guest's channel, and lost it (restarted? `daxrig doctor` checks it); boot again"
                : "the guest may still run there until its libvirtd ends it; boot again, on this host or another"))
        }
        if request.plan.pmem.reuse, let key = templateKey, case let .agentFailure("pmem", message) = outcome {
            templates.discard(key)
            outcome = .agentFailure(stage: "pmem", message: message + "\n(the pmem was a template an earlier boot of this kernel formatted, "
                + "\(templates.path(key)); it is removed, and the next boot formats anew)")
        }
        // Held before the dump: the developer's gdb sees the guest as the crash left it.
        if request.holdForGdb != nil, request.gdb != nil, !Cleanup.shared.interrupted,
           Self.holdsForGdb(outcome, stoppedByConsole: session.consoleStop != nil) {
            progress.phase("gdb", "the guest is held for gdb")
            request.holdForGdb?(outcome)
            clock.lap(.held)
        }
        if request.dumpOnCrash, session.consoleStop != nil { keepVmcore(of: domain, in: directory, remote: remote) }
        // A guest the console watch stopped for will not stop on its own.
        if !agent.closed, case .commandExited = outcome {} else if case .timeout = outcome {} else if session.consoleStop != nil {} else {
            // The channel closed on its own: a panic's reboot or a power-off is ending the
            // domain; give it a moment so the console log is complete.
            _ = domain.waitUntilStopped(timeout: 5)
        }
        Cleanup.shared.run(destroy)
        pump.stop()
        do { try remote?.fetchConsole(to: consoleLog) } catch { progress.phase("console", "kept as the stream brought it: \(error)") }
        clock.lap(.teardown)
        return finish(outcome, session)
    }

    /// Whether a stream failed only because its domain ended: QEMU closing a channel the
    /// guest never opened (no agent ran), with the host's plan unread in it, resets the
    /// socket libvirtd reads, and libvirt reports that as the stream's error. No loss:
    /// the console says how the guest ended. A connection that died, or a stream that
    /// failed under a guest still running, is one.
    static func streamEndedWithItsDomain(_ domain: LibvirtDomain, on connection: LibvirtConnection) -> Bool {
        connection.isAlive && domain.waitUntilStopped(timeout: 2)
    }

    /// Whether a boot that ended so has a guest worth holding for gdb: one the console
    /// watch stopped (a panic halted by panic=0, a stall) or one still running at its
    /// timeout. A guest that powered off, or whose agent reported, has nothing left.
    static func holdsForGdb(_ outcome: BootOutcome, stoppedByConsole: Bool) -> Bool {
        if case .timeout = outcome { return true }
        return stoppedByConsole
    }

    /// The run's inputs: sparse pmem backing files, or the request's own (a persistence
    /// check's second boot), the first one from its template where there is one, which
    /// the plan then says (formatted already, reuse; offer it as a template); for a run
    /// kept whole (`keep`), the plan as the guest gets it, in plan.json beside them
    /// (without the seed, which only the guest sees); and the initrd (the image, and the
    /// additions if any).
    func prepare(_ request: inout BootRequest, image: GuestImage, additions: Data, in directory: URL,
                 template: (key: String, store: PmemTemplates)?) throws -> (backing: [String], initrd: String) {
        // On another host the pmem is a volume there (RemoteBoot), made once the initrd is.
        let backing = try request.host != nil ? [] : request.pmemBackingFiles ?? request.pmemSizes.enumerated().map { index, size in
            let path = directory.appendingPathComponent("pmem\(index).img").path
            try PmemBackingFile.create(path: path, size: size)
            return path
        }
        if let template, let first = backing.first {
            request.plan.pmem.template = true
            if template.store.place(template.key, at: first) {
                request.plan.pmem.reuse = true
                progress.phase("template", "pmem from \(template.store.path(template.key))")
            }
        }
        if request.keep { try JSONCoding.encoder.encode(request.plan).write(to: directory.appendingPathComponent("plan.json")) }
        return (backing, try ImageBuilder.runInitrd(image: image, additions: additions, at: directory.appendingPathComponent("initrd.cpio").path))
    }

    /// The agent's wait for its channel and its plan (`GuestPlan.channelWaitParameter`):
    /// half the boot's timeout, so the guest says why before the host gives up.
    static func channelWait(_ request: BootRequest) -> String {
        "\(GuestPlan.channelWaitParameter)=\(Int(min(300, max(10, request.timeout / 2))))"
    }

    /// Starts the domain; QEMU that exits while starting is started again, twice, and
    /// shares that virtio-fs could not start go over 9p instead (the agent tries both).
    /// Any other error, or the third exit, is thrown as libvirt gave it.
    func start(_ spec: DomainSpec, builtIn: Set<String>?, on connection: LibvirtConnection) throws -> LibvirtDomain {
        var spec = spec
        var attempt = 1
        while true {
            do {
                // Streams are opened before the guest runs: a pty drops what no one reads.
                return try connection.createTransient(xml: spec.xml(), paused: true)
            } catch let error as LibvirtError where error.isQEMUExitAtStart && attempt < 3 && !Cleanup.shared.interrupted {
                attempt += 1
                progress.phase("boot", "QEMU exited while starting (\(error.message.prefix(160))); starting it again, attempt \(attempt) of 3")
            } catch let error as LibvirtError where spec.shares.contains(where: { $0.transport == .virtiofs }) && !Cleanup.shared.interrupted
                        && HostShare.isVirtiofsFailure(error.message) && HostShare.transports(builtIn: builtIn)?.contains(.ninep) ?? true {
                progress.phase("share", "virtio-fs could not start (\(error.message.prefix(200))); sharing over 9p")
                for index in spec.shares.indices { spec.shares[index].transport = .ninep }
            }
        }
    }

    /// The boot's result: the console, every part virtlogd rolled over, outranks the
    /// channel (a crash is a crash even if the command reported an exit status first),
    /// and a failed boot's panic is how it failed, not a crash under test.
    static func classify(_ outcome: BootOutcome, session: AgentSession, consoleLog: String, directory: URL, accelerator: Accelerator,
                         phases: [BootPhase], kernel: String) -> BootResult {
        let console = ConsoleLog.read(consoleLog)
        let log = console.text
        // Stacks as file:line where the kernel kept a vmlinux with DWARF beside it.
        let findings = StackDecoder.decorate((console.lossFinding.map { [$0] } ?? []) + ConsoleScanner.scan(log), kernel: kernel)
        var outcome = outcome
        let crash = findings.first { $0.kind.isCrash }
        // A session that ended without a verdict: what the agent could only say on the
        // console (no channel yet, or one lost) is why, unless the kernel crashed.
        if session.outcome == nil, outcome == session.silentEnding, crash == nil, let failure = AgentConsoleLine.lastFailure(in: log) {
            outcome = .agentFailure(stage: failure.stage, message: failure.message)
        }
        switch outcome {
        case .infrastructure, .timeout:
            break
        case let .bootFailure(reason, _):
            // Linux ends a failed boot with a panic ("No working init found").
            outcome = .bootFailure(reason: crash.map { $0.excerpt.split(whereSeparator: \.isNewline).first.map(String.init) ?? reason } ?? reason,
                                   excerpt: crash?.excerpt ?? Command.tail(log, lines: 15))
        default:
            if let crash { outcome = .kernelCrash(crash) }
        }
        var result = BootResult(outcome: outcome, findings: findings, consoleLog: consoleLog, runDirectory: directory.path,
                                accelerator: accelerator.rawValue, kernelRelease: session.release, phases: phases,
                                reports: session.reports, pmemMountOptions: session.mountOptions)
        result.sections = ConsoleSections(log: log)
        return result
    }
}

/// The boot's phases as they end, timed from the last one's end.
struct PhaseClock {
    private(set) var phases: [BootPhase] = []
    private var since = Date()

    mutating func lap(_ name: BootPhase.Name) {
        phases.append(BootPhase(name, seconds: Date().timeIntervalSince(since)))
        since = Date()
    }
}
