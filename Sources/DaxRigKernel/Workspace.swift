import Foundation
import DaxRigSupport

/// A kernel work tree of daxrig's own, one per source lineage, kept as a git
/// repository whose commits are pristine sources. Each build resets the tree to the
/// pristine commit and applies the series; git rewrites only the files that differ,
/// so their mtimes alone change and the reused out-of-tree build directory
/// recompiles only what a patch or a new commit touched.
///
///   trees/<lineage>/src             the git work tree
///   trees/<lineage>/build-<config>  O= directory of the kernel build, one per requested
///                                   config (reused: a default and a debug kernel of one
///                                   tree each rebuild only what a patch touched)
///   trees/<lineage>/config          O= directory where configs are resolved (reused)
public struct Workspace: Sendable {
    public let directory: URL
    /// Names the build directory: a hash of the requested config, empty for "build".
    public var configFlavor = ""
    public var source: String { directory.appendingPathComponent("src").path }
    public var build: String { directory.appendingPathComponent(configFlavor.isEmpty ? "build" : "build-\(configFlavor)").path }
    public var configDirectory: String { directory.appendingPathComponent("config").path }

    public init(cache: Cache, lineage: String) {
        directory = cache.trees.appendingPathComponent(lineage)
    }

    /// Brings `src` to the pristine source and returns the pristine commit.
    /// The caller holds the workspace lock.
    public func preparePristine(_ source: KernelSource, identity: KernelSource.Identity, progress: ProgressSink) throws -> String {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try removeStaleGitLocks()
        switch source {
        case let .tarball(path):
            let marker = directory.appendingPathComponent("pristine-\(identity.id.prefix(16))").path
            if !Files.exists(marker) || !Files.exists(self.source + "/.git") {
                try importTarball(path, progress: progress)
                let commit = try git(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
                try Files.write(commit, to: marker)
            }
            let commit = try Files.read(marker)
            try reset(to: commit)
            return commit
        case let .directory(path):
            try initRepository()
            progress.phase("sync", "copying \(path) into the workspace")
            // By content, not by size and mtime, and without the source's mtimes: a file
            // whose content changed gets a new mtime here, one whose content did not keeps
            // the old one, so make compiles exactly what changed. With -a alone, a fresh
            // checkout of the same tree (every mtime new) compiled all ~1,400 files again
            // (ccache hits, still 100 s here); --checksum reads both trees, about 2 s.
            try Command("rsync", ["-a", "--no-times", "--checksum", "--delete", "--exclude=/.git", path + "/", self.source + "/"]).run()
            try commitAll(message: "daxrig: \(path) \(identity.id.prefix(16))")
            return try git(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
        case let .git(repository, _):
            if !Files.exists(self.source + "/.git") {
                progress.phase("checkout", "cloning \(repository) (shared objects; your checkout is not touched)")
                Files.remove(self.source)
                try Command("git", ["clone", "-q", "--shared", "--no-checkout", repository, self.source]).run()
            }
            // Objects are shared through alternates, so commits made in the user's
            // repository since the clone resolve here without a fetch.
            try reset(to: identity.id)
            return identity.id
        }
    }

    /// A git that was SIGKILLed mid-command leaves its lock files, and every later git
    /// command in the tree refuses to run. The caller holds the workspace lock, but a
    /// daxrig that was itself SIGKILLed held it too and may have left its git or make
    /// running, orphaned: those are waited for (`grace`), and only then is a lock file
    /// known to be a leftover.
    public func removeStaleGitLocks(grace: TimeInterval = 60) throws {
        let deadline = Date().addingTimeInterval(grace)
        var inside = Self.processes(inside: directory.path)
        while !inside.isEmpty, Date() < deadline {
            usleep(200_000)
            inside = Self.processes(inside: directory.path)
        }
        guard inside.isEmpty else {
            throw KernelBuildError.treeBusy(tree: directory.path, pids: inside)
        }
        for name in ["index.lock", "HEAD.lock", "ORIG_HEAD.lock", "config.lock", "packed-refs.lock"] {
            Files.remove(source + "/.git/" + name)
        }
    }

    /// Processes whose working directory is `path` or below it (/proc/<pid>/cwd).
    static func processes(inside path: String) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { name in
            guard let pid = pid_t(name), pid != getpid(),
                  let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(name)/cwd") else { return nil }
            return cwd == path || cwd.hasPrefix(path + "/") ? pid : nil
        }
    }

    /// Puts the tree back to `commit`, dropping any patch applied before.
    public func reset(to commit: String) throws {
        try git(["-c", "advice.detachedHead=false", "checkout", "-q", "-f", "--detach", commit])
        // -x: Debian's tarball ignores its whole top level (/*), so a file a failed
        // patch created is "ignored" and only -x removes it; builds are out of tree.
        try git(["clean", "-q", "-fdx"])
    }

    /// The work tree as it is now (patches applied included), recorded as a git tree
    /// id: what a build was made from, to diff the next build against.
    public func snapshot() throws -> String {
        try git(["add", "-A", "-f", "."])
        return try git(["write-tree"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Files that differ between two snapshots; nil when the old one is unknown (a
    /// work tree made anew says nothing about what changed: make decides alone).
    public func changedFiles(from old: String, to new: String) throws -> [String]? {
        guard old != new else { return [] }
        let result = try Command("git", ["diff", "--name-only", "--no-renames", old, new], directory: source).runAllowingFailure()
        guard result.status == 0 else { return nil }
        return result.standardOutput.split(separator: "\n").map(String.init)
    }

    /// Applies the series in order. On the first patch that does not apply, resets the
    /// tree to `pristine` (nothing stays half-patched) and throws naming patch and hunk.
    public func apply(_ series: PatchSeries, pristine: String, progress: ProgressSink) throws {
        for patch in series.patches {
            progress.phase("patch", patch.name)
            let result = try Command("git", ["apply", "-p\(patch.stripLevel)", "--whitespace=nowarn", patch.path], directory: source)
                .runAllowingFailure()
            if result.status != 0 {
                try reset(to: pristine)
                throw Self.applyError(patch: patch, gitOutput: result.standardError)
            }
        }
    }

    /// Turns git apply's complaint into an error naming the patch, the file and the hunk.
    public static func applyError(patch: PatchSeries.Entry, gitOutput: String) -> PatchError {
        let diff = UnifiedDiff(text: patch.text, stripLevel: patch.stripLevel)
        var file = "?"
        var hunkText: String?
        for line in gitOutput.split(separator: "\n") {
            // "error: corrupt patch at line 8": the patch file itself is malformed.
            if line.hasPrefix("error: corrupt patch at line ") {
                file = "(none: the patch file is corrupt at line \(line.split(separator: " ").last ?? "?"))"
                break
            }
            // "error: patch failed: mm/memory.c:1234" names the hunk's old start line.
            if line.hasPrefix("error: patch failed: "), let colon = line.lastIndex(of: ":") {
                file = String(line[line.index(line.startIndex, offsetBy: "error: patch failed: ".count)..<colon])
                if let number = Int(line[line.index(after: colon)...]), let (_, hunk) = diff.hunk(path: file, oldLine: number) {
                    hunkText = "hunk #\(hunk.number) " + hunk.header + "\n" + hunk.lines.dropFirst().prefix(12).joined(separator: "\n")
                }
                break
            }
            // "error: mm/foo.c: No such file or directory" / "does not exist in index".
            if line.hasPrefix("error: "), let range = line.range(of: ": ", options: [], range: line.index(line.startIndex, offsetBy: 7)..<line.endIndex) {
                file = String(line[line.index(line.startIndex, offsetBy: 7)..<range.lowerBound])
            }
        }
        if hunkText == nil, let fileDiff = diff.files.first(where: { $0.newPath == file || $0.oldPath == file }), let first = fileDiff.hunks.first {
            hunkText = "hunk #\(first.number) " + first.header
        }
        return .doesNotApply(patch: patch.path, file: file, hunk: hunkText, detail: Command.tail(gitOutput, lines: 8))
    }

    private func importTarball(_ tarball: String, progress: ProgressSink) throws {
        let staging = directory.appendingPathComponent("src.importing").path
        Files.remove(staging)
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        progress.phase("extract", "extracting \(tarball) (once per tarball)")
        try Command("tar", ["-xf", tarball, "--strip-components=1", "-C", staging]).run()
        Files.remove(source)
        try FileManager.default.moveItem(atPath: staging, toPath: source)
        try initRepository()
        progress.phase("extract", "recording the pristine tree in the workspace's git")
        try commitAll(message: "daxrig: pristine \((tarball as NSString).lastPathComponent)")
    }

    private func initRepository() throws {
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        guard !Files.exists(source + "/.git") else { return }
        try git(["init", "-q"])
        for (key, value) in [("user.name", "daxrig"), ("user.email", "daxrig@localhost"), ("gc.auto", "0"), ("core.autocrlf", "false")] {
            try git(["config", key, value])
        }
    }

    private func commitAll(message: String) throws {
        try git(["add", "-A", "-f", "."])
        try git(["commit", "-q", "--allow-empty", "--no-verify", "-m", message])
    }

    @discardableResult
    func git(_ arguments: [String]) throws -> String {
        try Command("git", arguments, directory: source).run().standardOutput
    }
}
