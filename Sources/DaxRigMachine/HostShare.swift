import DaxRigImage
import DaxRigProtocol
import DaxRigSupport
import Foundation

/// A host directory one boot shares into the guest (`--share HOST[:GUEST][:ro]`),
/// read-write unless `:ro`. GUEST defaults to /root/NAME, as for `--add`.
public struct HostShare: Sendable, Equatable {
    /// Absolute, as the user's working directory resolved it.
    public var host: String
    public var guest: String
    public var readOnly: Bool

    public init(host: String, guest: String, readOnly: Bool = false) {
        self.host = host
        self.guest = guest
        self.readOnly = readOnly
    }

    /// Debian's qemu-system-common; DAXRIG_VIRTIOFSD names another (a test names one
    /// that cannot start, to see the 9p fallback).
    public static var virtiofsd: String {
        ProcessInfo.processInfo.environment["DAXRIG_VIRTIOFSD"] ?? "/usr/lib/qemu/virtiofsd"
    }

    /// Mounted by the agent before anything else: a share there would hide them.
    static let earlyMounts = ["/proc", "/sys", "/dev", "/tmp"]

    public static func parse(_ argument: String, workingDirectory: String = FileManager.default.currentDirectoryPath) throws -> HostShare {
        let option = "--share"
        var parts = argument.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let readOnly = parts.count > 1 && parts.last == "ro"
        if readOnly { parts.removeLast() }
        guard (1...2).contains(parts.count), let hostPart = parts.first, !hostPart.isEmpty else {
            throw GuestAdditionError.badArgument(option: option, argument: argument,
                                                 reason: "give HOST[:GUEST][:ro], HOST a directory on this host (a path with ':' in it cannot be shared)")
        }
        let host = URL(fileURLWithPath: hostPart, relativeTo: URL(fileURLWithPath: workingDirectory, isDirectory: true)).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: host, isDirectory: &isDirectory) else {
            throw GuestAdditionError.missing(option: option, host: hostPart)
        }
        guard isDirectory.boolValue else { throw GuestAdditionError.notADirectory(option: option, host: hostPart) }
        let guestPart = parts.count > 1 ? parts[1] : GuestAddition.defaultDirectory + "/" + (host as NSString).lastPathComponent
        let guest = try GuestAddition.guestPath(guestPart, option: option, argument: argument)
        if let mount = earlyMounts.first(where: { Self.overlaps(guest, $0) }) {
            throw GuestAdditionError.reserved(option: option, guest: guest, daxrigs: "the agent mounts \(mount)")
        }
        return HostShare(host: host, guest: guest, readOnly: readOnly)
    }

    /// Everything a boot's shares must pass before it starts (exit 2, naming the
    /// input): where they land (`check(_:image:additions:)`) and whether the kernel
    /// can mount them. `boot` checks here, and `run` before its first boot.
    public static func check(_ shares: [HostShare], image: ImageManifest, additions: [GuestAddition], builtIn: Set<String>?, kernel: String) throws {
        guard !shares.isEmpty else { return }
        try check(shares, image: image, additions: additions)
        try checkSupport(builtIn: builtIn, kernel: kernel)
    }

    /// Before anything starts: no share hides a file of the image, another share or an
    /// `--add`ed path (a mount over them would make them vanish in the guest).
    public static func check(_ shares: [HostShare], image: ImageManifest, additions: [GuestAddition]) throws {
        for (index, share) in shares.enumerated() {
            // An empty directory of the image is a mount point like any other.
            if let hidden = image.entries.first(where: { ($0.path == share.guest && $0.kind != "dir") || $0.path.hasPrefix(share.guest + "/") }) {
                throw GuestAdditionError.collides(option: "--share", guest: share.guest, image: "over \(hidden.path), a \(hidden.kind)")
            }
            // Under a file or a symlink of the image: mkdir fails in the guest, or the mount
            // lands wherever the symlink points.
            if let parent = image.entries.first(where: { $0.kind != "dir" && share.guest.hasPrefix($0.path + "/") }) {
                throw GuestAdditionError.collides(option: "--share", guest: share.guest, image: "under \(parent.path), a \(parent.kind)")
            }
            for other in shares[..<index] where overlaps(share.guest, other.guest) {
                throw GuestAdditionError.overlaps(option: "--share", guest: share.guest, other: "--share \(other.host):\(other.guest)")
            }
            for addition in additions where overlaps(share.guest, addition.guest) {
                throw GuestAdditionError.overlaps(option: "--share", guest: share.guest, other: "--add \(addition.host):\(addition.guest)")
            }
        }
    }

    static func overlaps(_ one: String, _ other: String) -> Bool {
        one == other || one.hasPrefix(other + "/") || other.hasPrefix(one + "/")
    }

    /// A kernel whose config says it can mount neither transport is refused (exit 2)
    /// before anything starts.
    public static func checkSupport(builtIn: Set<String>?, kernel: String) throws {
        if let supported = transports(builtIn: builtIn), supported.isEmpty {
            throw GuestAdditionError.kernelCannotMount(option: "--share", kernel: kernel,
                                                       needs: "CONFIG_VIRTIO_FS=y, or CONFIG_9P_FS=y with CONFIG_NET_9P_VIRTIO=y")
        }
    }

    /// The transport a share starts with: virtio-fs where the kernel has it and virtiofsd
    /// is there, else 9p, and why. A read-only share goes over 9p where the kernel has
    /// it: QEMU refuses its writes, where over virtio-fs (libvirt 9.0 has no read-only
    /// virtio-fs) only the guest's mount flag would, and guest root can remount.
    static func transport(for share: HostShare, builtIn: Set<String>?) -> (ShareMount.Transport, why: String?) {
        let supported = transports(builtIn: builtIn)
        if share.readOnly, supported?.contains(.ninep) ?? true { return (.ninep, nil) }
        if let supported, !supported.contains(.virtiofs) { return (.ninep, "the kernel has no CONFIG_VIRTIO_FS") }
        if !FileManager.default.isExecutableFile(atPath: virtiofsd) { return (.ninep, "no virtiofsd at \(virtiofsd)") }
        return (.virtiofs, nil)
    }

    /// Whether libvirt's error is virtio-fs's own (virtiofsd, or the shared memory it
    /// needs), the only failure 9p can avoid; any other is the start's failure as it is.
    static func isVirtiofsFailure(_ message: String) -> Bool {
        let text = message.lowercased()
        return ["virtiofs", "vhost-user", "memfd"].contains { text.contains($0) }
    }

    /// The transports a kernel can mount, from the options its kept config builds in
    /// (`KernelFiles.builtIn`, read once per boot); nil when there is none to read (a
    /// bare bzImage): then the guest's mount says.
    public static func transports(builtIn: Set<String>?) -> Set<ShareMount.Transport>? {
        guard let options = builtIn else { return nil }
        var found: Set<ShareMount.Transport> = []
        if options.contains("CONFIG_VIRTIO_FS") { found.insert(.virtiofs) }
        if options.isSuperset(of: ["CONFIG_9P_FS", "CONFIG_NET_9P_VIRTIO"]) { found.insert(.ninep) }
        return found
    }
}
