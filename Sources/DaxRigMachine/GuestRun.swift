import DaxRigProtocol
import Foundation
import DaxRigImage
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
    /// Keep the run directory (console log, plan, backing files, and the initrd when
    /// additions made one of its own) for inspection.
    public var keep: Bool
    public var extraKernelArguments: [String]
    /// Host files and directories copied into the run's initramfs (`--add`).
    public var additions: [GuestAddition] = []
    /// Host directories mounted in the guest before the command (`--share`).
    public var shares: [HostShare] = []
    /// On a kernel crash, the guest's memory as a vmcore kept with the run (`--dump-on-crash`):
    /// the kernel then halts on a panic instead of rebooting, so there is a guest to dump.
    public var dumpOnCrash = false
    /// QEMU's gdb stub (`--gdb`); the kernel then boots with `nokaslr`, so vmlinux's
    /// addresses are the running kernel's, and halts on a panic, so a crashed guest
    /// stays there for gdb until the boot ends.
    public var gdb: GdbStub?
    /// With `gdb`: a boot that ends in a kernel crash or a timeout calls this with how it
    /// ended while its guest is still there (halted on its panic, or still running), and
    /// destroys the guest once it returns: the developer's moment to attach gdb.
    public var holdForGdb: (@Sendable (BootOutcome) -> Void)?
    /// Keystrokes from this descriptor (a terminal in raw mode) go to the plan's terminal
    /// (`GuestPlan.terminal`, `daxrig boot --shell`).
    public var terminalInput: Int32?
    /// The libvirt host to boot on (`--host`): a URI such as qemu+ssh://user@host/system.
    /// nil boots on this machine's libvirtd. Another host shares no file system with
    /// daxrig: the boot's files go up as volumes (RemoteBoot) and its console and
    /// channel come back as streams.
    public var host: String?
    /// The first nvdimm may come formatted from a template (PmemTemplates) instead of
    /// ndctl and mkfs in the guest; false (`--fresh-pmem`) formats it in every boot.
    public var pmemTemplate = true
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

/// The debugging a whole run asks for, applied to each of its boots: one place, so a
/// runner's setting and a request's field cannot disagree.
public struct BootPolicy: Sendable {
    /// Every boot keeps a vmcore of a crashed guest (`BootRequest.dumpOnCrash`).
    public var dumpOnCrash = false
    /// Every boot gets the stub (`BootRequest.gdb`): boots of a run are one at a time,
    /// so one port serves them all.
    public var gdb: GdbStub?
    /// Host directories every boot mounts (`BootRequest.shares`), after the request's own.
    public var shares: [HostShare] = []
    /// `BootRequest.holdForGdb` for every boot with the stub.
    public var holdForGdb: (@Sendable (BootOutcome) -> Void)?
    /// Every boot formats its pmem itself (`BootRequest.pmemTemplate` false).
    public var freshPmem = false
    /// Every boot runs on this libvirt host (`BootRequest.host`; `--host`).
    public var host: String?

    public init(dumpOnCrash: Bool = false, gdb: GdbStub? = nil, holdForGdb: (@Sendable (BootOutcome) -> Void)? = nil, shares: [HostShare] = []) {
        self.dumpOnCrash = dumpOnCrash
        self.gdb = gdb
        self.holdForGdb = holdForGdb
        self.shares = shares
    }

    /// The request as this policy has it: what the policy asks for is added, what the
    /// request asked for itself is kept.
    public func apply(to request: inout BootRequest) {
        if dumpOnCrash { request.dumpOnCrash = true }
        if request.gdb == nil { request.gdb = gdb }
        if request.holdForGdb == nil { request.holdForGdb = holdForGdb }
        request.shares += shares
        if freshPmem { request.pmemTemplate = false }
        if request.host == nil { request.host = host }
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
    /// The kdump-compressed memory of a crashed guest (`BootRequest.dumpOnCrash`), kept.
    public var vmcore: String?
    public static let vmcoreName = "vmcore"

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
    /// What every boot of this runner gets on top of what its request asked (`daxrig
    /// run`'s --dump-on-crash, --share and --gdb reach each boot a spec makes through it).
    public var policy = BootPolicy()

    public init(cache: Cache = .default, progress: ProgressSink = SilentProgress(), vcpuLimit: Int? = nil) {
        self.cache = cache
        self.progress = progress
        self.vcpuLimit = vcpuLimit
    }

    /// The kernel command line for our guests: console on the first serial port, the
    /// agent as init, and a panic turns into a reboot, which libvirt turns into a
    /// stopped domain, so a panic never hangs a run. With `haltOnPanic` (panic=0) the
    /// guest stays halted instead, for its vmcore or for gdb, and the console watch
    /// ends the boot. `no_timer_check`: under TCG on a loaded host the IO-APIC timer
    /// check can miss its ticks and panic the boot ("IO-APIC + timer doesn't work!",
    /// seen here on 2026-12-06 with two kernel builds beside the guest), a test of
    /// the host's speed, not of the kernel's; virtual machines skip it.
    public static func kernelCommandLine(extra: [String], haltOnPanic: Bool = false) -> String {
        (["console=ttyS0", "rdinit=/init", haltOnPanic ? "panic=0" : "panic=-1", "oops=panic", "reboot=t", "printk.devkmsg=on",
          "no_timer_check"] + extra)
            .joined(separator: " ")
    }

    /// Boots `request`, streaming the command's output to `output` as it arrives.
    /// Never throws for a guest's failure: every ending is a `BootOutcome`; throws only
    /// when the request itself is unusable (kernel or image missing).
    public func boot(_ request: BootRequest, image: GuestImage,
                     output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> BootResult {
        // The run's own settings first, so its shares are checked with the request's.
        var request = request
        policy.apply(to: &request)
        guard Files.exists(request.kernel) else {
            throw BootLimitError(input: "kernel", value: request.kernel,
                                 allowed: "no such bzImage (build one with `daxrig kernel build`, or give the path of one that exists)")
        }
        // The kernel's kept config, read once: the share checks, the transports and
        // the 9p fallback all ask it.
        let builtIn = KernelFiles(bzImage: request.kernel).builtIn()
        try BootLimits.check(request)
        try RemoteBoot.check(request)
        // The user's additions are read before anything is made: a collision or an
        // unreadable file is their input (exit 2), not a boot that failed.
        let additions = try GuestAddition.archive(request.additions, image: image.manifest)
        try HostShare.check(request.shares, image: image.manifest, additions: request.additions, builtIn: builtIn, kernel: request.kernel)
        if !additions.isEmpty { try BootLimits.check(additionBytes: UInt64(additions.count), memoryMiB: request.memoryMiB) }
        try cache.checkOwnership()
        if let vcpuLimit { request.vcpus = min(request.vcpus, vcpuLimit) }
        let swept = Leftovers.sweep(cache)
        if !swept.isEmpty {
            progress.phase("sweep", "removed \(swept.count) leftover(s) of daxrig processes that died: " + swept.prefix(3).joined(separator: ", "))
        }
        let runDirectory = try Leftovers.runDirectory(in: cache)
        let cleanup = Cleanup.shared
        let removeRun = cleanup.add("remove \(runDirectory.path)") { Files.removeDirectory(runDirectory.path) }
        var result = run(request, image: image, additions: additions, builtIn: builtIn, in: runDirectory, output: output)
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
                where name != "console.log" && name != "agent.log" && name != BootResult.vmcoreName {
                    Files.remove(runDirectory.appendingPathComponent(name).path)
                }
            }
            cleanup.drop(removeRun)
            Leftovers.keep(runDirectory)
            result.consoleLog = runDirectory.appendingPathComponent("console.log").path
            result.runDirectory = runDirectory.path
            let vmcore = runDirectory.appendingPathComponent(BootResult.vmcoreName).path
            result.vmcore = Files.exists(vmcore) ? vmcore : nil
        } else {
            cleanup.run(removeRun)
            result.consoleLog = nil
            result.runDirectory = nil
        }
        return result
    }
}
