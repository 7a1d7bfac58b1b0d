import DaxRigProtocol
import Foundation
import DaxRigImage
import DaxRigKernel
import DaxRigMachine
import DaxRigSupport

/// One guest boot, as `daxrig boot` and every later stage ask for it.
public struct BootRequest: Sendable {
    /// The bzImage to boot.
    public var kernel: String
    public var plan: GuestPlan
    /// Size of each nvdimm in bytes; one backing file each, sparse.
    public var pmemSizes: [UInt64]
    /// Backing files to use instead of fresh ones (a second boot on the same pmem);
    /// they are never removed by the run.
    public var pmemBackingFiles: [String]?
    public var memoryMiB: Int
    public var vcpus: Int
    /// Wall-clock limit for the whole boot, command included.
    public var timeout: Double
    /// Keep the run directory (console log, initrd, backing files) for inspection.
    public var keep: Bool
    public var extraKernelArguments: [String]
    /// Two: a TLB reader needs a vCPU of its own beside the process that changes the
    /// mapping, and more than the host's cores slows every vCPU under TCG.
    public static let defaultVCPUs = 2

    public init(kernel: String, plan: GuestPlan, pmemSizes: [UInt64] = [2 << 30], pmemBackingFiles: [String]? = nil,
                memoryMiB: Int = 512, vcpus: Int = defaultVCPUs, timeout: Double = 120, keep: Bool = false, extraKernelArguments: [String] = []) {
        self.kernel = kernel
        self.plan = plan
        self.pmemSizes = pmemSizes
        self.pmemBackingFiles = pmemBackingFiles
        self.memoryMiB = memoryMiB
        self.vcpus = vcpus
        self.timeout = timeout
        self.keep = keep
        self.extraKernelArguments = extraKernelArguments
    }
}

/// What one boot measured and how it ended.
public struct BootResult: Sendable {
    public var outcome: BootOutcome
    /// Everything the kernel reported on the console that looks like trouble.
    public var findings: [ConsoleFinding]
    /// Which console lines belong to which case of the plan.
    public var sections = ConsoleSections()

    /// The findings that count against the case `name` (ConsoleSections says which).
    public func findings(for name: String) -> [ConsoleFinding] { sections.findings(findings, for: name) }
    /// The serial console log; kept (and named here) unless the run passed without --keep.
    public var consoleLog: String?
    public var runDirectory: String?
    public var accelerator: String
    public var kernelRelease: String?
    /// Seconds per phase: start (libvirt define+start), kernel (to agent start),
    /// pmem (namespace, mkfs, mount), command, teardown; in order.
    public var phases: [BootPhase]
    /// Structured reports the guest sent (workload results), in order.
    public var reports: [(name: String, text: String)]
    public var pmemMountOptions: String?

    /// How the boot ended and where its console log was kept, for a run that got no report.
    public var summary: String {
        "\(outcome)" + (consoleLog.map { " (console log: \($0))" } ?? "")
    }
}

/// Boots kernels with the agent as PID 1 and runs plans in them.
public struct GuestRunner: Sendable {
    public let cache: Cache
    public let progress: ProgressSink
    /// vCPUs for every guest, whatever the request says: set when guests run side by
    /// side, so their vCPUs together do not outnumber the host's cores.
    public var vcpuLimit: Int?
    /// The host as the run measured it once (HostFacts.measure); nil decides per boot.
    public var host: HostFacts?

    public init(cache: Cache = .default, progress: ProgressSink = SilentProgress(), vcpuLimit: Int? = nil) {
        self.cache = cache
        self.progress = progress
        self.vcpuLimit = vcpuLimit
    }

    /// The kernel command line for our guests: console on the first serial port, the
    /// agent as init, and a panic turns into a reboot, which libvirt turns into a
    /// stopped domain, so a panic can never hang a run.
    public static func kernelCommandLine(extra: [String]) -> String {
        (["console=ttyS0", "rdinit=/init", "panic=-1", "oops=panic", "reboot=t", "printk.devkmsg=on"] + extra)
            .joined(separator: " ")
    }

    /// Boots `request`, streaming the command's output to `output` as it arrives.
    /// Never throws for a guest's failure: every ending is a `BootOutcome`; throws only
    /// when the request itself is unusable (kernel or image missing).
    public func boot(_ request: BootRequest, image: GuestImage,
                     output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> BootResult {
        guard Files.exists(request.kernel) else {
            throw KernelBuildError.unknownKernel(reference: request.kernel, known: [])
        }
        try BootLimits.check(request)
        try cache.checkOwnership()
        var request = request
        if let vcpuLimit { request.vcpus = min(request.vcpus, vcpuLimit) }
        let swept = Leftovers.sweep(cache)
        if !swept.isEmpty {
            progress.phase("sweep", "removed \(swept.count) leftover(s) of daxrig processes that died: " + swept.prefix(3).joined(separator: ", "))
        }
        let runDirectory = try Leftovers.runDirectory(in: cache)
        let cleanup = Cleanup.shared
        let removeRun = cleanup.add("remove \(runDirectory.path)") { Files.removeDirectory(runDirectory.path) }
        var result = run(request, image: image, in: runDirectory, output: output)
        // Any kernel report keeps the console, not only a crash: a `bad pmd` the run
        // survived fails kernel-log-clean, and its reader wants the whole log.
        let passed = result.outcome == .commandExited(status: 0, signal: nil) && result.findings.isEmpty
        if request.keep || !passed {
            // Keep the console log (and with --keep everything) for the user and reports;
            // drop the big files of a failed run. The domain is gone: the console's
            // rolled-over parts join into one console.log, whose lines are the findings'.
            let consoleLog = runDirectory.appendingPathComponent("console.log").path
            try? ConsoleLog.read(consoleLog).join(into: consoleLog)
            if !request.keep {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: runDirectory.path)) ?? []
                where name != "console.log" && name != "agent.log" {
                    Files.remove(runDirectory.appendingPathComponent(name).path)
                }
            }
            cleanup.drop(removeRun)
            Leftovers.keep(runDirectory)
            result.consoleLog = runDirectory.appendingPathComponent("console.log").path
            result.runDirectory = runDirectory.path
        } else {
            cleanup.run(removeRun)
            result.consoleLog = nil
            result.runDirectory = nil
        }
        return result
    }

    private func run(_ request: BootRequest, image: GuestImage, in directory: URL,
                     output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) -> BootResult {
        let consoleLog = directory.appendingPathComponent("console.log").path
        let socketPath = directory.appendingPathComponent("agent.sock").path
        let initrd = directory.appendingPathComponent("initrd.cpio").path
        var phases: [BootPhase] = []
        var clock = Date()
        func lap(_ name: BootPhase.Name) { phases.append(BootPhase(name, seconds: Date().timeIntervalSince(clock))); clock = Date() }
        let accelerator = host?.accelerator ?? Accelerator.choose(kernel: request.kernel, cache: cache)
        func finish(_ outcome: BootOutcome, release: String? = nil, reports: [(String, String)] = [], mount: String? = nil) -> BootResult {
            // Every part virtlogd rolled over, not the last 2 MiB only.
            let console = ConsoleLog.read(consoleLog)
            let log = console.text
            let findings = (console.lossFinding.map { [$0] } ?? []) + ConsoleScanner.scan(log)
            var outcome = outcome
            let crash = findings.first { $0.kind.isCrash }
            switch outcome {
            case .infrastructure, .timeout:
                break
            case let .bootFailure(reason, _):
                // Linux ends a failed boot with a panic ("No working init found"): that
                // panic is how the boot failed, not a crash under test.
                outcome = .bootFailure(reason: crash.map { $0.excerpt.split(whereSeparator: \.isNewline).first.map(String.init) ?? reason } ?? reason,
                                       excerpt: crash?.excerpt ?? Command.tail(log, lines: 15))
            default:
                // The console outranks the channel: a crash is a crash even if the command
                // managed to report an exit status first.
                if let crash { outcome = .kernelCrash(crash) }
            }
            var result = BootResult(outcome: outcome, findings: findings, consoleLog: consoleLog, runDirectory: directory.path,
                                    accelerator: accelerator.rawValue, kernelRelease: release, phases: phases,
                                    reports: reports.map { (name: $0.0, text: $0.1) }, pmemMountOptions: mount)
            result.sections = ConsoleSections(log: log)
            return result
        }

        // Inputs: the per-run initrd (image + plan) and sparse pmem backing files.
        let backing: [String]
        do {
            try ImageBuilder.writeRunInitrd(image: image, plan: request.plan, to: initrd)
            if let given = request.pmemBackingFiles {
                backing = given
            } else {
                backing = try request.pmemSizes.enumerated().map { index, size in
                    let path = directory.appendingPathComponent("pmem\(index).img").path
                    try PmemBackingFile.create(path: path, size: size)
                    return path
                }
            }
        } catch {
            return finish(.infrastructure("preparing the run in \(directory.path): \(error)"))
        }

        let spec = DomainSpec(
            name: DomainSpec.uniqueName(), accelerator: accelerator, memoryMiB: request.memoryMiB, vcpus: request.vcpus,
            kernel: request.kernel, initrd: initrd, commandLine: Self.kernelCommandLine(extra: request.extraKernelArguments),
            nvdimms: zip(backing, request.pmemSizes).map { NvdimmSpec(backingFile: $0.0, sizeBytes: $0.1) },
            consoleLog: consoleLog, agentSocket: socketPath, machine: .for(kernel: request.kernel))

        progress.phase("boot", "\(spec.name): \(accelerator.rawValue), \(request.memoryMiB) MiB, pmem \(request.pmemSizes.map { "\($0 >> 20) MiB" }.joined(separator: " + "))")
        let deadline = Date().addingTimeInterval(request.timeout)
        let connection: LibvirtConnection
        do { connection = try LibvirtConnection() } catch { return finish(.infrastructure("\(error)")) }
        // Registered before the start, by name: Ctrl-C may come while libvirt is still
        // starting the domain, before there is a handle to destroy.
        let destroy = Cleanup.shared.add("destroy domain \(spec.name)") { [name = spec.name] in
            try? connection.destroyDomain(named: name)
        }
        defer { Cleanup.shared.run(destroy) }
        var started: LibvirtDomain?
        for attempt in 1...3 where started == nil {
            do {
                started = try connection.createTransient(xml: spec.xml())
            } catch let error as LibvirtError where error.isQEMUExitAtStart && attempt < 3 && !Cleanup.shared.interrupted {
                progress.phase("boot", "QEMU exited while starting (\(error.message.prefix(160))); starting it again, attempt \(attempt + 1) of 3")
            } catch {
                return finish(.infrastructure("\(error)"))
            }
        }
        guard let domain = started else { return finish(.infrastructure("QEMU did not start")) }
        lap(.start)

        let agent: AgentConnection
        do {
            agent = try AgentConnection(path: socketPath, deadline: Date().addingTimeInterval(10))
        } catch {
            return finish(.infrastructure("\(error)"))
        }

        var release: String?
        var reports: [(String, String)] = []
        var mountOptions: String?
        var outcome: BootOutcome?
        var phase = "kernel boot"
        // Read until the agent says it is powering off (it has synced and unmounted by
        // then, so the domain can be destroyed at once), the channel closes, or time is up.
        reading: while true {
            guard let message = agent.next(until: deadline) else {
                if agent.closed { break }
                outcome = .timeout(seconds: request.timeout, lastPhase: phase)
                break
            }
            switch message {
            case let .started(_, kernelRelease):
                release = kernelRelease
                lap(.kernel)
                phase = "agent setup"
                progress.phase("agent", "started on \(kernelRelease)")
            case let .step(name, detail, _):
                if name == "command" { phase = "command" }
                progress.phase(name, detail)
            case let .pmemReady(device, mountPoint, options):
                mountOptions = options
                lap(.pmem)
                phase = "command"
                progress.phase("pmem", "\(device) on \(mountPoint) (\(options))")
            case let .output(stream, data):
                output(stream, data)
            case let .exited(status, signal, _):
                lap(.command)
                phase = "power-off"
                outcome = .commandExited(status: status, signal: signal)
            case let .failed(stage, message):
                if outcome == nil { outcome = .agentFailure(stage: stage, message: message) }
            case let .report(name, text):
                reports.append((name, text))
            case .poweringOff:
                break reading
            }
        }
        if outcome == nil {
            // The channel closed without a verdict: the guest died or never reached init.
            outcome = release == nil
                ? .bootFailure(reason: "the guest stopped before the agent started", excerpt: "")
                : .agentFailure(stage: phase, message: "the guest stopped without reporting (see the console log)")
        }
        if !agent.closed, case .commandExited = outcome {} else if case .timeout = outcome {} else {
            // The channel closed on its own: a panic's reboot or a power-off is ending the
            // domain; give it a moment so the console log is complete.
            _ = domain.waitUntilStopped(timeout: 5)
        }
        Cleanup.shared.run(destroy)
        lap(.teardown)
        return finish(outcome!, release: release, reports: reports, mount: mountOptions)
    }
}

/// Sparse backing files for emulated nvdimms.
public enum PmemBackingFile {
    /// The nvdimm for files of up to `largestFile` bytes: that plus 1 GiB of room for
    /// the file system, in whole GiB, 2 GiB at least.
    public static func size(forLargestFile largestFile: UInt64) -> UInt64 {
        let gib: UInt64 = 1 << 30
        return max(2 * gib, (largestFile + gib + gib - 1) / gib * gib)
    }

    /// Creates `path` as a sparse file of `size` bytes (ftruncate: no blocks allocated).
    public static func create(path: String, size: UInt64) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileError.unwritable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(size)) == 0 else { throw FileError.unwritable(path: path, reason: String(cString: strerror(errno))) }
    }
}
