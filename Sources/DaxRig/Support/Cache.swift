import Foundation

/// Where daxrig keeps what it builds: one root, shared by the CLI, the tests and the
/// benchmarks so that a kernel built once serves them all.
///
/// Layout under the root:
///   kernels/<key>/      finished kernel artifacts (bzImage, .config, System.map, build.log, manifest.json)
///   images/<key>/       finished guest images (initramfs.cpio, manifest.json)
///   trees/<lineage>/    a git work tree per source lineage (src/) with its reused build dirs
///   locks/              flock files
///   runs/               per-run scratch (console logs, backing files) until the run ends
public struct Cache: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root }

    /// `$DAXRIG_CACHE`, else `$XDG_CACHE_HOME/daxrig`, else `~/.cache/daxrig`.
    public static var `default`: Cache {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["DAXRIG_CACHE"], !dir.isEmpty { return Cache(root: URL(fileURLWithPath: dir)) }
        let base = env["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return Cache(root: base.appendingPathComponent("daxrig"))
    }

    public var kernels: URL { root.appendingPathComponent("kernels") }
    public var images: URL { root.appendingPathComponent("images") }
    public var trees: URL { root.appendingPathComponent("trees") }
    public var locks: URL { root.appendingPathComponent("locks") }
    public var runs: URL { root.appendingPathComponent("runs") }

    public func directory(_ url: URL) throws -> URL {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// An exclusive lock named `name`, held until the returned lock is released or the
    /// process dies (flock), so a killed daxrig never leaves the cache locked.
    public func lock(_ name: String) throws -> FileLock {
        try FileLock(path: directory(locks).appendingPathComponent(name + ".lock").path)
    }
}

/// flock(2) on a file: two daxrig processes building the same kernel take turns.
public final class FileLock: @unchecked Sendable {
    private let fd: Int32
    public let path: String

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            FileHandle.standardError.write(Data("waiting for \(path) (another daxrig holds it)\n".utf8))
            while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        }
    }

    public func release() {
        flock(fd, LOCK_UN)
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
