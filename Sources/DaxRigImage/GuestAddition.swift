import Foundation
import DaxRigSupport

/// A host file or directory one boot copies into its initramfs (`--add HOST[:GUEST]`):
/// a reproducer or a test binary, when no share is wanted. It needs no kernel option,
/// and the shared libraries an ELF loads come along (those the image lacks), as they
/// do for the image's own tools.
public struct GuestAddition: Sendable, Equatable {
    /// Absolute, as the user's working directory resolved it.
    public var host: String
    /// Absolute in the guest.
    public var guest: String

    public init(host: String, guest: String) {
        self.host = host
        self.guest = guest
    }

    /// Where daxrig's own guest lives: a member there would replace the agent (/init),
    /// its plan (/daxrig) or the pmem mount point.
    public static let reserved = ["/init", "/daxrig", "/mnt/pmem"]

    /// Where an addition lands when the user names no guest path: /root, the guest's
    /// home, which nothing of daxrig's uses.
    public static let defaultDirectory = "/root"

    /// `HOST[:GUEST]`: HOST relative to the working directory; GUEST absolute, by default
    /// /root/ and HOST's last component. Checked here: HOST exists, GUEST is a plain
    /// absolute path outside daxrig's own.
    public static func parse(_ argument: String, option: String = "--add",
                             workingDirectory: String = FileManager.default.currentDirectoryPath) throws -> GuestAddition {
        let parts = argument.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let hostPart = parts.first, !hostPart.isEmpty else {
            throw GuestAdditionError.badArgument(option: option, argument: argument, reason: "give HOST[:GUEST], HOST a file or directory on this host")
        }
        let host = URL(fileURLWithPath: hostPart, relativeTo: URL(fileURLWithPath: workingDirectory, isDirectory: true)).standardizedFileURL.path
        guard Files.exists(host) else { throw GuestAdditionError.missing(option: option, host: hostPart) }
        let guestPart = parts.count > 1 ? parts[1] : defaultDirectory + "/" + (host as NSString).lastPathComponent
        return GuestAddition(host: host, guest: try guestPath(guestPart, option: option, argument: argument))
    }

    /// GUEST as a normalized absolute path outside daxrig's own (`reserved`); also for
    /// `--share`, whose mount there would hide the same things.
    public static func guestPath(_ guestPart: String, option: String, argument: String) throws -> String {
        guard guestPart.hasPrefix("/"), let normalized = try? CpioArchive.normalize(guestPart), !normalized.isEmpty else {
            throw GuestAdditionError.badArgument(option: option, argument: argument,
                                                 reason: "the guest path '\(guestPart)' must be absolute, without '.' or '..' components")
        }
        let guest = "/" + normalized
        if let clash = reserved.first(where: { guest == $0 || guest.hasPrefix($0 + "/") || $0.hasPrefix(guest + "/") }) {
            throw GuestAdditionError.reserved(option: option, guest: guest, daxrigs: clash)
        }
        return guest
    }
}

/// An addition or share that cannot be made: the user's input (exit 2), named by the option.
public enum GuestAdditionError: RigError, Equatable {
    public var exitStatus: ExitStatus { .badInput }

    case badArgument(option: String, argument: String, reason: String)
    case missing(option: String, host: String)
    case reserved(option: String, guest: String, daxrigs: String)
    /// The guest path is a file or symlink of the image (busybox, a library): replacing
    /// it would change the guest daxrig's checks run in.
    case collides(option: String, guest: String, image: String)
    /// A FIFO, socket or device node: nothing a cpio of the user's files should carry.
    case unsupported(option: String, host: String, kind: String)
    case unreadable(option: String, host: String, reason: String)
    /// `--share` takes directories only.
    case notADirectory(option: String, host: String)
    /// Two paths in the guest where one would hide the other.
    case overlaps(option: String, guest: String, other: String)
    /// The kernel's config beside its bzImage lacks what the guest needs to mount it.
    case kernelCannotMount(option: String, kernel: String, needs: String)

    public var description: String {
        switch self {
        case let .badArgument(option, argument, reason):
            return "\(option) \(argument): \(reason)"
        case let .missing(option, host):
            return "\(option) \(host): no such file or directory on this host"
        case let .reserved(option, guest, daxrigs):
            return "\(option): \(guest) is daxrig's own (\(daxrigs)) in the guest: give another guest path, e.g. HOST:/root/NAME"
        case let .collides(option, guest, image):
            return "\(option): \(guest) is \(image) of daxrig's guest image: give another guest path, e.g. HOST:/root/NAME"
        case let .unsupported(option, host, kind):
            return "\(option): \(host) is \(kind): only files, directories and symlinks can be added"
        case let .unreadable(option, host, reason):
            return "\(option): \(host) cannot be read: \(reason)"
        case let .notADirectory(option, host):
            return "\(option) \(host): not a directory; share its directory, or copy the file in with --add"
        case let .kernelCannotMount(option, kernel, needs):
            return "\(option): the kernel \(kernel) cannot mount a share (its config lacks \(needs)); "
                + "boot a kernel built with daxrig's default fragment, or add those options"
        case let .overlaps(option, guest, other):
            return "\(option): \(guest) would hide or be hidden by \(other) in the guest: give one of them another guest path"
        }
    }
}
