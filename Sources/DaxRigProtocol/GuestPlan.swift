#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What the host asks of one guest boot. It travels as the first line the host sends
/// on the agent's channel (`HostMessage.plan`), so the initrd is the cached image
/// itself, whatever the plan: another host keeps one copy of it, uploaded once
/// (issue 19). The agent leaves it at `path`, where its own tasks read it.
public struct GuestPlan: Codable, Sendable, Equatable {
    /// Where the plan sits in the guest's root file system.
    public static let path = "/daxrig/plan.json"
    /// Where the command may leave reports: after it exits, the agent sends each regular
    /// file there (sorted by name) as `AgentMessage.report(name: file name, text:)`,
    /// before `exited`. The command finds the path in $DAXRIG_REPORTS too.
    public static let reportsDirectory = "/daxrig/reports"
    public static let reportsEnvironmentVariable = "DAXRIG_REPORTS"
    /// Random bytes the host sends with the plan for each boot (`HostMessage.plan`),
    /// which the agent credits to the kernel's CRNG and writes to no file.
    /// 512 bits, twice what the CRNG needs to count as initialized.
    public static let entropySeedBytes = 64
    /// The kernel command-line word (`daxrig.channel_wait=SECONDS`) that says how long
    /// the agent looks for its virtio-serial port and then waits for the plan, before it
    /// fails at "channel" or "plan" and says why on the console. The host sets half its
    /// boot timeout: long enough for a guest starved of CPU on a loaded host, short
    /// enough that the reason is heard. A dotted word the kernel leaves alone.
    public static let channelWaitParameter = "daxrig.channel_wait"
    public static let defaultChannelWait = 60.0

    /// The pmem device(s) to prepare, in order; the first is mounted at `mountPoint`.
    public var pmem: PmemSetup
    /// argv of the command to run with the pmem mounted; empty runs nothing.
    public var command: [String]
    public var environment: [String: String]
    /// The agent's own task, when `command` is the one that runs it (GuestTask.command);
    /// nil for any other command. The boot layer carries it without looking inside.
    /// Set only with `init(pmem:task:...)`, which sets the command from it too.
    public private(set) var task: GuestTask?
    /// Power off as a power failure would: no sync, no unmount, whatever the command
    /// left in the page cache or the file system's log is lost. Persistence checks use
    /// it to prove that what was synced survives on its own.
    public var abruptPowerOff: Bool
    /// Run the command on a pty whose bytes travel over the agent's channel both ways
    /// (`daxrig boot --shell`), instead of on pipes with stdin on /dev/null.
    public var terminal: TerminalSpec?
    /// Host directories to mount before the command, in order (`daxrig boot --share`).
    public var shares: [ShareMount] = []
    public init(pmem: PmemSetup = PmemSetup(), command: [String] = [], environment: [String: String] = [:],
                abruptPowerOff: Bool = false) {
        self.pmem = pmem
        self.command = command
        self.environment = environment
        self.task = nil
        self.abruptPowerOff = abruptPowerOff
    }

    /// A plan that runs one of the agent's own tasks.
    public init(pmem: PmemSetup, task: GuestTask, environment: [String: String] = [:], abruptPowerOff: Bool = false) {
        self.init(pmem: pmem, command: task.command, environment: environment, abruptPowerOff: abruptPowerOff)
        self.task = task
    }
}

/// How the guest turns its raw NFIT namespace into a DAX file system.
public struct PmemSetup: Codable, Sendable, Equatable {
    /// none: leave the namespace raw (no ndctl, no mkfs, nothing mounted).
    public enum FileSystem: String, Codable, Sendable, CaseIterable {
        case ext4, xfs, none
    }

    public var fileSystem: FileSystem
    public var mountPoint: String
    /// Keep an existing namespace and file system (a second boot on the same backing
    /// file, for persistence checks) instead of reformatting.
    public var reuse: Bool
    /// The host keeps a template of what the agent formats: after ndctl and mkfs the
    /// agent syncs, says `pmemFormatted` and waits for the host's `proceed` (the host
    /// copies the backing file meanwhile), so later boots skip both (PmemTemplates).
    public var template: Bool

    public init(fileSystem: FileSystem = .xfs, mountPoint: String = "/mnt/pmem", reuse: Bool = false, template: Bool = false) {
        self.fileSystem = fileSystem
        self.mountPoint = mountPoint
        self.reuse = reuse
        self.template = template
    }
}
