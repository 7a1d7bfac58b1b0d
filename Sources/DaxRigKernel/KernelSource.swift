import Foundation
import DaxRigSupport

/// Where a kernel's source comes from.
public enum KernelSource: Sendable, Equatable, Codable, CustomStringConvertible {
    /// A release tarball, by default Debian's linux-source-6.1.
    case tarball(path: String)
    /// A directory holding a kernel tree; copied before patching, never modified.
    case directory(path: String)
    /// A git repository and a ref; built from daxrig's own checkout of it.
    case git(repository: String, ref: String)

    public static let debianTarball = "/usr/src/linux-source-6.1.tar.xz"
    public static let `default` = KernelSource.tarball(path: debianTarball)

    /// A kernel tree directory or a tarball, whichever `path` is.
    public static func local(_ path: String) -> KernelSource {
        Files.isDirectory(path) ? .directory(path: path) : .tarball(path: path)
    }

    public var description: String {
        switch self {
        case let .tarball(path): path
        case let .directory(path): path
        case let .git(repository, ref): "\(repository)@\(ref)"
        }
    }

    /// A source resolved to content: what the cache key and the workspace use.
    public struct Identity: Sendable, Equatable, Codable {
        /// "tarball", "directory" or "git".
        public var kind: String
        /// Content identity: the tarball's SHA-256, the tree's content hash, or the commit.
        public var id: String
        /// The workspace this source is built in; one per tarball, directory or repository,
        /// so that successive builds reuse one build tree and rebuild only what changed.
        public var lineage: String
    }

    /// Resolves the source to its content identity. Cheap on repeated calls (the
    /// tarball's hash is remembered by size and mtime), as a cache hit must be.
    public func identity(cache: Cache) throws -> Identity {
        switch self {
        case let .tarball(path):
            guard Files.exists(path) else {
                throw KernelBuildError.sourceMissing(path: path, hint: path == Self.debianTarball
                    ? "install the Debian package linux-source-6.1 (apt-get install linux-source-6.1, or run scripts/setup.sh)"
                    : "give the path of a kernel tarball")
            }
            let hash = try StatCachedHash(cache: cache).hash(ofFile: path)
            return Identity(kind: "tarball", id: hash, lineage: "tar-" + hash.prefix(12))
        case let .directory(path):
            let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
            guard Files.exists(absolute + "/Makefile"), Files.exists(absolute + "/Kconfig") else {
                throw KernelBuildError.sourceMissing(path: path, hint: "a kernel tree has a top-level Makefile and Kconfig")
            }
            let hash = try TreeHash(cache: cache).hash(ofTree: absolute)
            return Identity(kind: "directory", id: hash, lineage: pathLineage ?? "")
        case let .git(repository, ref):
            let absolute = URL(fileURLWithPath: repository).standardizedFileURL.path
            guard Files.exists(absolute + "/.git") || Files.exists(absolute + "/HEAD") else {
                throw KernelBuildError.sourceMissing(path: repository, hint: "give a git repository (a work tree or a bare repository)")
            }
            let result = try Command("git", ["-C", absolute, "rev-parse", "--verify", "--quiet", ref + "^{commit}"]).runAllowingFailure()
            guard result.status == 0 else {
                throw KernelBuildError.badRef(repository: repository, ref: ref)
            }
            let commit = result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            return Identity(kind: "git", id: commit, lineage: pathLineage ?? "")
        }
    }

    /// The work tree of a source that is keyed by where it is (a directory, a
    /// repository), named without reading the source: what removes the tree of a source
    /// that is gone. nil for a tarball, whose tree is keyed by its content.
    public var pathLineage: String? {
        switch self {
        case .tarball: nil
        case let .directory(path): "dir-" + ContentHash.of(URL(fileURLWithPath: path).standardizedFileURL.path).prefix(12)
        case let .git(repository, _): "git-" + ContentHash.of(URL(fileURLWithPath: repository).standardizedFileURL.path).prefix(12)
        }
    }
}

/// A file's SHA-256, remembered by path, size, mtime and inode, so that the 130 MB
/// tarball is read once, not on every cache lookup.
struct StatCachedHash {
    let cache: Cache

    func hash(ofFile path: String) throws -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { throw FileError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        let stamp = "\(path)|\(st.st_size)|\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)|\(st.st_ino)"
        let memo = cache.root.appendingPathComponent("hashes/" + ContentHash.of(stamp).prefix(24)).path
        if let remembered = try? Files.read(memo), remembered.count == 64 { return remembered }
        let hash = try ContentHash.ofFile(path)
        try Files.write(hash, to: memo)
        return hash
    }
}

/// The content hash of a directory tree: every regular file's path, mode and
/// contents, and every symlink's target. Per-file hashes are remembered by
/// (size, mtime, inode), as git's index does, so an unchanged tree re-hashes in the
/// time it takes to stat it.
struct TreeHash {
    let cache: Cache

    func hash(ofTree root: String) throws -> String {
        let memoPath = cache.root.appendingPathComponent("hashes/tree-" + ContentHash.of(root).prefix(24)).path
        var memo: [String: (stamp: String, hash: String)] = [:]
        if let text = try? Files.read(memoPath) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "\t", maxSplits: 2).map(String.init)
                if parts.count == 3 { memo[parts[0]] = (parts[1], parts[2]) }
            }
        }
        var entries: [(path: String, stamp: String, hash: String)] = []
        try walk(root, relative: "") { relative, st in
            let full = root + "/" + relative
            let stamp = "\(st.st_size)|\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)|\(st.st_ino)|\(st.st_mode)"
            if let known = memo[relative], known.stamp == stamp {
                entries.append((relative, stamp, known.hash))
            } else if (st.st_mode & S_IFMT) == S_IFLNK {
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: full)) ?? ""
                entries.append((relative, stamp, "link:" + target))
            } else {
                entries.append((relative, stamp, try ContentHash.ofFile(full)))
            }
        }
        entries.sort { $0.path < $1.path }
        let total = ContentHash()
        var memoText = ""
        for entry in entries {
            let mode = entry.stamp.split(separator: "|").last ?? ""
            total.update("\(entry.path)\0\(mode)\0\(entry.hash)\n")
            memoText += "\(entry.path)\t\(entry.stamp)\t\(entry.hash)\n"
        }
        try? Files.write(memoText, to: memoPath)
        return total.finalize()
    }

    /// Visits regular files and symlinks below `directory`, skipping the top-level .git.
    private func walk(_ root: String, relative: String, visit: (String, stat) throws -> Void) throws {
        let directory = relative.isEmpty ? root : root + "/" + relative
        guard let dir = opendir(directory) else { throw FileError.unreadable(path: directory, reason: String(cString: strerror(errno))) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name == "." || name == ".." || (relative.isEmpty && name == ".git") { continue }
            names.append(name)
        }
        for name in names {
            let child = relative.isEmpty ? name : relative + "/" + name
            var st = stat()
            guard lstat(root + "/" + child, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFDIR: try walk(root, relative: child, visit: visit)
            case S_IFREG, S_IFLNK: try visit(child, st)
            default: continue
            }
        }
    }
}
