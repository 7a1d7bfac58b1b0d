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
    /// The kernel's own selftests built from a tree, and their runners.
    public var selftests: URL { root.appendingPathComponent("selftests") }
    /// Formatted pmem backing files (DaxRigMachine's PmemTemplates).
    public var pmemTemplates: URL { root.appendingPathComponent("pmem-templates") }

    public func directory(_ url: URL) throws -> URL {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// An exclusive lock named `name`, held until the returned lock is released or the
    /// process dies (flock), so a killed daxrig never leaves the cache locked.
    public func lock(_ name: String, shared: Bool = false) throws -> FileLock {
        try FileLock(path: directory(locks).appendingPathComponent(name + ".lock").path, shared: shared)
    }

    /// The lock named `name` if nobody holds it, without waiting.
    public func attemptLock(_ name: String) throws -> FileLock? {
        FileLock.attempt(path: try directory(locks).appendingPathComponent(name + ".lock").path)
    }
}

/// flock(2) on a file: two daxrig processes building the same kernel take turns.
/// Reentrant on one thread: a caller that holds a lock (a test that must keep other
/// builds out of a work tree between two of its own) can call code that takes it
/// again; the inner lock is a no-op. Other threads of the process still wait, as
/// flock makes separate opens of one file wait.
public final class FileLock: @unchecked Sendable {
    private let fd: Int32
    public let path: String
    private let nested: Bool
    private var released = false
    /// The taking thread's dictionary, where this lock says it is held: released from
    /// another thread (a deinit), the mark still goes from the right one.
    private let registry: NSMutableDictionary?

    private static func key(_ path: String) -> String { "daxrig.lock:" + path }

    /// `shared`: many holders at once, while nobody holds it exclusively (a boot using
    /// a host's volume holds it so; `gc --host` tries it exclusively and steps aside).
    public init(path: String, shared: Bool = false) throws {
        self.path = path
        let held = Thread.current.threadDictionary
        if held[Self.key(path)] != nil {
            fd = -1
            nested = true
            registry = nil
            return
        }
        nested = false
        registry = held
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
        let mode = shared ? LOCK_SH : LOCK_EX
        if flock(fd, mode | LOCK_NB) != 0 {
            FileHandle.standardError.write(Data("waiting for \(path) (another daxrig holds it)\n".utf8))
            while flock(fd, mode) != 0 && errno == EINTR {}
        }
        held[Self.key(path)] = true
    }

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
        nested = false
        registry = nil
    }

    /// The lock if nobody holds it, without waiting: for work that steps aside from a
    /// build in progress (gc) instead of queueing behind it.
    public static func attempt(path: String) -> FileLock? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        return FileLock(fd: fd, path: path)
    }

    public func release() {
        guard !nested, !released, fd >= 0 else { return }
        released = true
        flock(fd, LOCK_UN)
        registry?.removeObject(forKey: Self.key(path))
    }

    deinit {
        release()
        if fd >= 0 { close(fd) }
    }
}
