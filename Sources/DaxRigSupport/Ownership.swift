import Foundation

/// A directory or file daxrig would trust that belongs to another user. daxrig runs as
/// root here and boots what its cache holds (kernels, initramfs) and writes into it:
/// a cache someone else owns could hand root their kernel, or a symbolic link to a
/// file root should not write. Refused, naming it (exit 2), never used.
public struct OwnershipError: RigError, Equatable {
    /// What the user can fix: exit 2.
    public var exitStatus: ExitStatus { .badInput }

    public var path: String
    public var owner: uid_t
    public var user: uid_t

    public var description: String {
        "\(path) belongs to uid \(owner), not to uid \(user) who runs daxrig: it is not used; "
            + "chown it, or give a cache of your own with $DAXRIG_CACHE (a store with --store)"
    }
}

public enum Ownership {
    /// Throws when `path` exists and belongs to someone else (lstat: a symbolic link is
    /// judged as itself, not as what it points to).
    public static func check(_ path: String, user: uid_t = geteuid()) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_uid == user else { throw OwnershipError(path: path, owner: info.st_uid, user: user) }
    }
}

extension Cache {
    /// The cache's root and the directories whose contents a boot runs.
    public func checkOwnership(user: uid_t = geteuid()) throws {
        for url in [root, kernels, images, runs] { try Ownership.check(url.path, user: user) }
    }
}
