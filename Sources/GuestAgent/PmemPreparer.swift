import DaxRigProtocol
import FoundationEssentials
import Glibc
import GuestCore

/// Turns the raw NFIT namespace into a mounted DAX file system, and proves DAX is on.
///
/// A label-less NFIT namespace is "raw" and cannot do DAX; converting it to fsdax
/// writes a pfn info block into the namespace itself, so the conversion (and a file
/// system made after it) survives into the next boot on the same backing file. That
/// is what `reuse` relies on.
struct PmemPreparer {
    struct Ready {
        var device: String
        var mountPoint: String
        var mountOptions: String
    }

    static let namespace = "namespace0.0"

    let setup: PmemSetup
    /// Where step messages go (the channel).
    let report: (AgentMessage) -> Void
    /// Waits for the host's copy of the formatted backing file (`PmemSetup.template`);
    /// false when it never answered.
    var awaitHost: () -> Bool = { false }

    func prepare() throws -> Ready {
        let fileSystem = setup.fileSystem
        let mountPoint = Self.normalized(setup.mountPoint)
        var device: String?
        var hasFileSystem = false

        if setup.reuse {
            let started = Clock.now()
            let existing = Self.probedFsdax().map { Namespace(dev: Self.namespace, mode: "fsdax", blockdev: $0) } ?? (try? Self.currentNamespace())
            if let existing, existing.mode == "fsdax", let blockdev = existing.blockdev {
                device = "/dev/\(blockdev)"
                hasFileSystem = Self.hasFileSystem(fileSystem, on: "/dev/\(blockdev)")
            }
            let found = device.map { "\(Self.namespace) is fsdax (\($0)), " + (hasFileSystem ? "\(fileSystem.rawValue) found: keeping it" : "no \(fileSystem.rawValue) on it: formatting") }
                ?? "\(Self.namespace) is \(existing?.mode ?? "absent"), not fsdax: converting and formatting"
            report(.step(name: "reuse", detail: found, seconds: Clock.now() - started))
        }

        if device == nil {
            let argv = ["ndctl", "create-namespace", "-f", "-e", Self.namespace, "-m", "fsdax", "-a", "2M"]
            let output: String, seconds: Double
            do {
                (output, seconds) = try ChildProcess.capture(argv, stage: "pmem")
            } catch let failure as AgentFailure {
                let namespaces = FileIO.listDirectory("/sys/bus/nd/devices").filter { $0.hasPrefix("namespace") }
                throw AgentFailure("pmem", failure.message + (namespaces.isEmpty
                    ? "\n(no nvdimm namespace in /sys/bus/nd/devices: the guest has no nvdimm (domain <memory model='nvdimm'>) or the kernel lacks ACPI_NFIT/LIBNVDIMM)"
                    : "\n(namespaces: \(namespaces.joined(separator: ", ")))"))
            }
            let created = NdctlNamespace.decode(output).first
            device = "/dev/\(created?.blockdev ?? "pmem0")"
            report(.step(name: "namespace", detail: Self.compact(output), seconds: seconds))
        }
        let blockDevice = device ?? "/dev/pmem0"
        try Self.waitForDevice(blockDevice)

        if !hasFileSystem {
            let argv = PmemSetup.mkfsCommand(fileSystem, device: blockDevice)
            let size = Self.deviceMiB(blockDevice)
            do {
                let (_, seconds) = try ChildProcess.capture(argv, stage: "pmem")
                report(.step(name: "mkfs", detail: argv.joined(separator: " ") + (size.map { " (\($0) MiB)" } ?? ""), seconds: seconds))
            } catch let failure as AgentFailure {
                var message = failure.message
                if let size { message += "\n(\(blockDevice) is \(size) MiB" + (fileSystem == .xfs ? "; xfs with su=2m needs at least about 576 MiB: give the guest a larger nvdimm)" : ")") }
                throw AgentFailure("pmem", message)
            }
        }

        if setup.template && !hasFileSystem { offerTemplate() }  // formatted just now

        let mountStarted = Clock.now()
        try staged("pmem") { try FileIO.makeDirectories(mountPoint) }
        do {
            try Mounts.mount(.init(source: blockDevice, target: mountPoint, type: fileSystem.rawValue, flags: 0, options: "dax"))
        } catch let failure as AgentFailure {
            throw AgentFailure("pmem", failure.message + "; the kernel log (serial console) says why, e.g. \"DAX unsupported by block device\" for a namespace that is not fsdax")
        }
        report(.step(name: "mount", detail: "\(blockDevice) on \(mountPoint) type \(fileSystem.rawValue) -o dax",
                     seconds: Clock.now() - mountStarted))

        let checkStarted = Clock.now()
        let options = try Self.verifyDAX(mountPoint: mountPoint)
        report(.step(name: "dax-check", detail: "/proc/mounts: \(options); statx: STATX_ATTR_DAX set",
                     seconds: Clock.now() - checkStarted))
        return Ready(device: blockDevice, mountPoint: mountPoint, mountOptions: options)
    }

    /// What ndctl and mkfs made, on the backing file for the host to copy: synced (the
    /// block device's cache and the file system's writes reach the pmem, which is the
    /// host's file), and untouched until the host says so. Never mounted: each boot
    /// from the template mounts a file system as fresh as mkfs left it.
    private func offerTemplate() {
        let started = Clock.now()
        sync()
        report(.pmemFormatted)
        let answered = awaitHost()
        report(.step(name: "template", detail: answered ? "the host copied the formatted pmem"
                     : "the host did not answer in time: no template kept", seconds: Clock.now() - started))
    }

    /// Both checks must pass: the mount option says DAX was asked for and accepted,
    /// statx says a new file really is accessed through DAX.
    static func verifyDAX(mountPoint: String) throws -> String {
        guard let entry = Mounts.table().last(where: { $0.mountPoint == mountPoint }) else {
            throw AgentFailure("pmem", "\(mountPoint) is not in /proc/mounts after mounting it")
        }
        let options = entry.options.joined(separator: ",")
        // ext4 and xfs on 6.x show "dax=always"; older kernels and ext2 show plain "dax".
        guard entry.options.contains("dax=always") || entry.options.contains("dax") else {
            throw AgentFailure("pmem", "DAX check failed: /proc/mounts shows \(entry.source) on \(mountPoint) "
                + "without dax (options: \(options)); the kernel fell back to the page cache")
        }
        let probe = mountPoint + "/.daxrig-dax-probe"
        let fd = open(probe, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw AgentFailure("pmem", "cannot create \(probe) for the DAX check: \(errnoText())") }
        close(fd)
        defer { unlink(probe) }
        let attributes = try SystemCalls.statxAttributes(probe)
        guard attributes.supported & SystemCalls.attributeDAX != 0 else {
            throw AgentFailure("pmem", "DAX check failed: statx on \(probe) does not report STATX_ATTR_DAX at all "
                + "(stx_attributes_mask 0x\(String(attributes.supported, radix: 16))); the kernel is older than 5.8?")
        }
        guard attributes.attributes & SystemCalls.attributeDAX != 0 else {
            throw AgentFailure("pmem", "DAX check failed: /proc/mounts shows \(options) but statx says \(probe) "
                + "is not DAX (stx_attributes 0x\(String(attributes.attributes, radix: 16)))")
        }
        return options
    }

    typealias Namespace = NdctlNamespace

    /// `ndctl list` also waits for the nvdimm bus to finish probing, which a fresh
    /// boot may still be doing when init starts.
    static func currentNamespace() throws -> Namespace? {
        let (output, _) = try ChildProcess.capture(["ndctl", "list", "-N", "-n", namespace], stage: "pmem")
        return NdctlNamespace.decode(output).first { $0.dev == namespace }
    }

    /// pmem0 when the probed namespace is fsdax, read from sysfs: ndctl list costs
    /// 0.15 s under TCG, a third of a boot's pmem phase from a template. The bus's
    /// wait_probe is what ndctl waits on for probing to finish; a block device that
    /// does DAX is an fsdax namespace's (a raw one has no pfn, so no DAX). Anything else
    /// (no device, no DAX) is ndctl's to say.
    static func probedFsdax() -> String? {
        _ = try? FileIO.readText("/sys/bus/nd/devices/ndbus0/wait_probe")
        guard FileIO.exists("/dev/pmem0"),
              (try? FileIO.readText("/sys/block/pmem0/queue/dax"))?.trimmedWhitespace == "1" else { return nil }
        return "pmem0"
    }

    /// Superblock magic: "XFSB" at byte 0 for xfs, 0xEF53 at byte 1080 for ext2/3/4.
    static func hasFileSystem(_ fileSystem: PmemSetup.FileSystem, on device: String) -> Bool {
        guard let head = try? FileIO.readPrefix(device, count: 2048), head.count == 2048 else { return false }
        switch fileSystem {
        case .xfs: return head[0..<4].elementsEqual("XFSB".utf8)
        case .ext4: return head[1080] == 0x53 && head[1081] == 0xEF
        case .none: return false
        }
    }

    /// /sys/block/<dev>/size counts 512-byte sectors.
    static func deviceMiB(_ device: String) -> Int? {
        let name = device.split(separator: "/").last.map(String.init) ?? device
        guard let text = try? FileIO.readText("/sys/block/\(name)/size"), let sectors = Int(text.trimmedWhitespace) else { return nil }
        return sectors / 2048
    }

    static func waitForDevice(_ device: String, seconds: Double = 10) throws {
        let deadline = Clock.now() + seconds
        while !FileIO.exists(device) {
            if Clock.now() > deadline {
                throw AgentFailure("pmem", "\(device) did not appear within \(Int(seconds)) s after ndctl")
            }
            Clock.sleep(seconds: 0.02)
        }
    }

    static func normalized(_ path: String) -> String {
        var path = path.hasPrefix("/") ? path : "/" + path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// ndctl's pretty-printed JSON on one line, for a step detail.
    static func compact(_ text: String) -> String {
        text.split(separator: "\n").map { $0.trimmedWhitespace }.joined(separator: " ")
    }
}
