import DaxRigProtocol
import Foundation
import DaxRigSupport

/// One emulated nvdimm: a file on the host that the guest sees as persistent memory.
public struct NvdimmSpec: Sendable, Equatable {
    public var backingFile: String
    public var sizeBytes: UInt64
    /// The host mapping's alignment; 2 MiB so the guest can map it with PMDs.
    public var alignBytes: UInt64
    /// A label area (namespace labels). Without one the guest sees one raw namespace
    /// covering the device, which ndctl converts to fsdax in place.
    public var labelBytes: UInt64?

    public init(backingFile: String, sizeBytes: UInt64, alignBytes: UInt64 = 2 << 20, labelBytes: UInt64? = nil) {
        self.backingFile = backingFile
        self.sizeBytes = sizeBytes
        self.alignBytes = alignBytes
        self.labelBytes = labelBytes
    }
}

/// The emulated chipset: q35 for every kernel. Measured interleaved on 2026-12-06
/// (`daxrig boot -- true`, 6 boots each), q35 4.16 s and pc 4.47 s: the pc DSDT's
/// _PRT builds its routing table in an AML While loop, and Linux evaluates _PRT
/// again for every PCI device it enables (about 0.21 s a virtio device under TCG,
/// initcall_debug; a KASAN kernel ran past ACPICA's 30 s loop timeout and virtio-pci
/// got no IRQ), and a device on an interrupt link no other device uses evaluates
/// that link's AML too (0.39 s for a share on LNKD). q35's _PRT is a static package,
/// and libvirt puts the virtio devices behind pcie-root-ports (modern virtio). pc
/// measured faster on 2026-12-01 (2.9 s to the agent against 3.6 to 4.4), when the
/// agent still waited for the virtio-rng to fill the random pool; the host seeds it
/// since. pc stays for a caller that wants it.
public enum MachineType: String, Sendable, Codable {
    case pc, q35
}

/// QEMU's gdb stub on the host's loopback, for `daxrig boot --gdb`.
public struct GdbStub: Sendable, Equatable {
    public var port: Int
    /// Start the guest paused, so gdb can set breakpoints before the kernel runs; gdb's
    /// `continue` starts it.
    public var wait: Bool

    public init(port: Int = 1234, wait: Bool = false) {
        self.port = port
        self.wait = wait
    }

    /// What `gdb` needs to attach: the remote target and, when the kernel has them,
    /// the tree's lx- helpers (auto-loaded beside vmlinux once its directory is safe).
    public func command(vmlinux: String, scripts: String?) -> String {
        var words = ["gdb"]
        if let scripts {
            words += ["-iex", "'add-auto-load-safe-path \((scripts as NSString).deletingLastPathComponent)'"]
        }
        words += [vmlinux, "-ex", "'target remote 127.0.0.1:\(port)'"]
        return words.joined(separator: " ")
    }
}

/// How the guest's CPUs are run.
public enum Accelerator: String, Sendable, Codable {
    /// Hardware virtualization (libvirt type 'kvm').
    case kvm
    /// QEMU's software emulation (libvirt type 'qemu').
    case tcg
}

/// A transient guest: direct kernel boot, nvdimms, a serial console into a file and a
/// virtio-serial channel for the agent. Rendered as libvirt domain XML.
public struct DomainSpec: Sendable, Equatable {
    public var machine: MachineType
    public var name: String
    public var accelerator: Accelerator
    public var memoryMiB: Int
    public var vcpus: Int
    public var kernel: String
    public var initrd: String
    public var commandLine: String
    public var nvdimms: [NvdimmSpec]
    /// Where the serial console goes. The results channel is always a libvirt stream
    /// (DomainStreams).
    public var console: Console

    public enum Console: Sendable, Equatable {
        /// On this machine: a file virtlogd writes, which daxrig reads as it grows.
        case file(String)
        /// On another host: a pty daxrig reads as a stream, and QEMU's log of it there
        /// (`log`, in the pool), kept whole. Not this machine's way: the 8250 sends a
        /// byte at a time, and each goes through libvirtd to the stream: a 2 MB console
        /// took 20.1 s against 13.6 s to a file, with 7 s more host CPU (3.5 s of it
        /// libvirtd's), and a 9 MB flood outran a 120 s boot (2026-12-07).
        case pty(log: String)
    }
    /// QEMU's gdb stub, passed on QEMU's command line (libvirt has no element for it).
    public var gdb: GdbStub?
    /// Host directories, each a filesystem device the agent mounts by its tag.
    public var shares: [DomainShare] = []
    /// QEMU's vmcoreinfo device: the guest hands it the kernel's VMCOREINFO, and a memory
    /// dump carries it, so crash and drgn find the kernel in the vmcore.
    public var vmcoreInfo = false

    public init(name: String, accelerator: Accelerator, memoryMiB: Int, vcpus: Int, kernel: String, initrd: String,
                commandLine: String, nvdimms: [NvdimmSpec], console: Console, machine: MachineType = .q35) {
        self.machine = machine
        self.name = name
        self.accelerator = accelerator
        self.memoryMiB = memoryMiB
        self.vcpus = vcpus
        self.kernel = kernel
        self.initrd = initrd
        self.commandLine = commandLine
        self.nvdimms = nvdimms
        self.console = console
    }

    /// "daxrig-<pid>-<random>": unique on the host, and recognisably ours.
    public static func uniqueName() -> String {
        "daxrig-\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// The domain XML. What an nvdimm needs (DESIGN.md): maxMemory with a slot per
    /// device, a NUMA cell, ACPI (the NFIT), and the device itself, access shared.
    public func xml() -> String {
        let nvdimmKiB = nvdimms.reduce(UInt64(0)) { $0 + $1.sizeBytes / 1024 }
        let memoryKiB = UInt64(memoryMiB) * 1024
        var lines = [
            "<domain type='\(accelerator == .kvm ? "kvm" : "qemu")' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>",
            "  <name>\(Self.escape(name))</name>",
            "  <memory unit='KiB'>\(memoryKiB)</memory>",
        ]
        if !nvdimms.isEmpty {
            lines.append("  <maxMemory slots='\(max(nvdimms.count, 1))' unit='KiB'>\(memoryKiB + nvdimmKiB)</maxMemory>")
        }
        if shares.contains(where: { $0.transport == .virtiofs }) {
            // virtiofsd maps guest RAM to serve its requests: the RAM must be shared memory.
            lines.append("  <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>")
        }
        lines += [
            "  <vcpu>\(vcpus)</vcpu>",
            "  <os>",
            "    <type arch='x86_64' machine='\(machine.rawValue)'>hvm</type>",
            "    <kernel>\(Self.escape(kernel))</kernel>",
            "    <initrd>\(Self.escape(initrd))</initrd>",
            "    <cmdline>\(Self.escape(commandLine))</cmdline>",
            "  </os>",
            "  <features><acpi/>\(vmcoreInfo ? "<vmcoreinfo state='on'/>" : "")</features>",
            "  <cpu>",
            "    <numa><cell id='0' cpus='0-\(vcpus - 1)' memory='\(memoryKiB)' unit='KiB'/></numa>",
            "  </cpu>",
            "  <clock offset='utc'/>",
            "  <on_poweroff>destroy</on_poweroff>",
            "  <on_reboot>destroy</on_reboot>",
            "  <on_crash>destroy</on_crash>",
            "  <devices>",
            serialXML,
            // libvirt places the channel's socket itself: it is read as a stream.
            "    <channel type='unix'>",
            "      <source mode='bind'/>",
            "      <target type='virtio' name='\(AgentMessage.channelName)'/>",
            "    </channel>",
        ]
        for nvdimm in nvdimms {
            lines += [
                "    <memory model='nvdimm' access='shared'>",
                "      <source>",
                "        <path>\(Self.escape(nvdimm.backingFile))</path>",
                "        <alignsize unit='KiB'>\(nvdimm.alignBytes / 1024)</alignsize>",
                // Marks the file as persistent memory: libvirt then does not preallocate
                // (touch) the whole backing file at every start, and it stays sparse.
                "        <pmem/>",
                "      </source>",
                "      <target>",
                "        <size unit='KiB'>\(nvdimm.sizeBytes / 1024)</size>",
                "        <node>0</node>",
            ]
            if let label = nvdimm.labelBytes {
                lines.append("        <label><size unit='KiB'>\(label / 1024)</size></label>")
            }
            lines += ["      </target>", "    </memory>"]
        }
        for share in shares { lines += share.xml() }
        lines += [
            "    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>",
            "    <memballoon model='none'/>",
            // q35 would add a USB controller nothing uses (pc has none here either).
            "    <controller type='usb' model='none'/>",
            "  </devices>",
            // Our files live under root's cache, which the qemu user cannot reach: run
            // this domain's QEMU as root and leave file ownership alone.
            "  <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>",
        ]
        // Without this capability libvirt reads the guest CPU's features back one QMP
        // qom-get each, ~400 of them, between QEMU's start and `cont`: 0.27 of a
        // domain start's 0.40 s here (2026-12-07; median of 6, 0.40 -> 0.13 s). The
        // x86 path it falls back to reads the same features in two. What it costs: the
        // domain is logged as tainted, "custom-hypervisor-feature".
        lines.append("  <qemu:capabilities><qemu:del capability='\(Self.slowCPUQueryCapability)'/></qemu:capabilities>")
        if let gdb {
            // Loopback only: the stub reads and writes all of the guest's memory.
            lines += ["  <qemu:commandline>", "    <qemu:arg value='-gdb'/>",
                      "    <qemu:arg value='tcp:127.0.0.1:\(gdb.port)'/>", "  </qemu:commandline>"]
        }
        lines.append("</domain>")
        return lines.joined(separator: "\n") + "\n"
    }

    private var serialXML: String {
        switch console {
        case let .file(path): "    <serial type='file'><source path='\(Self.escape(path))'/><target port='0'/></serial>"
        case let .pty(log): "    <serial type='pty'><log file='\(Self.escape(log))' append='off'/><target port='0'/></serial>"
        }
    }

    /// libvirt's name for QEMU's `unavailable-features` CPU property, whose presence
    /// makes libvirt fetch the started guest's CPU features one by one.
    static let slowCPUQueryCapability = "cpu-unavailable-features"

    static func escape(_ text: String) -> String { XMLText.escape(text) }
}
