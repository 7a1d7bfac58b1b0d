@testable import DaxRig
import Foundation
import Testing
@testable import DaxRigKernel
@testable import DaxRigSupport

/// daxrig's own kernel work tree after a git command in it was killed (a Ctrl-C of a
/// build or bisect stops its process group, git included).
@Suite struct WorkspaceTests {
    /// git leaves `.git/index.lock` when it dies mid-checkout; every later git command
    /// in the tree then refuses to run. The caller holds the workspace lock, so no
    /// other git can be running there: the lock file is stale, and the next build must
    /// not fail on it (CI, 2026-12-03: the resumed bisect exited 3 on it). The test is
    /// the only user of its scratch cache, which stands in for the tree lock.
    @Test func aStaleIndexLockFromAKilledGitDoesNotStopTheNextBuild() throws {
        let scratch = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let repo = scratch.appendingPathComponent("linux").path
        let environment = ["GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"]
        try Command("git", ["init", "-q", repo]).run()
        try Files.write("first\n", to: repo + "/Makefile")
        try Command("git", ["-C", repo, "add", "Makefile"]).run()
        try Command("git", ["-C", repo, "commit", "-q", "-m", "one"], environment: environment).run()
        let one = try Command("git", ["-C", repo, "rev-parse", "HEAD"]).run().standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        try Files.write("second\n", to: repo + "/Makefile")
        try Command("git", ["-C", repo, "commit", "-q", "-a", "-m", "two"], environment: environment).run()

        let cache = Cache(root: scratch.appendingPathComponent("cache"))
        let source = KernelSource.git(repository: repo, ref: "HEAD")
        let workspace = Workspace(cache: cache, lineage: try source.identity(cache: cache).lineage)
        // The tree a cleanup names from the path alone is the one the build used, also
        // for another ref of the repository and a path spelled differently.
        #expect(source.pathLineage == workspace.directory.lastPathComponent)
        #expect(KernelSource.git(repository: repo + "/./", ref: one).pathLineage == source.pathLineage)
        #expect(KernelSource.tarball(path: repo).pathLineage == nil)
        _ = try workspace.preparePristine(source, identity: try source.identity(cache: cache), progress: SilentProgress())
        #expect(try Files.read(workspace.source + "/Makefile") == "second\n")

        // As a killed `git checkout` leaves it.
        try Files.write("", to: workspace.source + "/.git/index.lock")
        let older = KernelSource.git(repository: repo, ref: one)
        _ = try workspace.preparePristine(older, identity: try older.identity(cache: cache), progress: SilentProgress())
        #expect(try Files.read(workspace.source + "/Makefile") == "first\n")
        #expect(!Files.exists(workspace.source + "/.git/index.lock"))

        // A git still running there (orphaned by a daxrig that was SIGKILLed) holds a live
        // lock: it is waited for, not raced; one that outlives the grace is an error.
        let orphan = Process()
        orphan.executableURL = URL(fileURLWithPath: "/bin/sleep")
        orphan.arguments = ["1.5"]
        orphan.currentDirectoryURL = URL(fileURLWithPath: workspace.source)
        try orphan.run()
        try Files.write("", to: workspace.source + "/.git/index.lock")
        let started = Date()
        try workspace.removeStaleGitLocks(grace: 30)
        #expect(Date().timeIntervalSince(started) >= 1.0)
        #expect(!orphan.isRunning && !Files.exists(workspace.source + "/.git/index.lock"))
        orphan.waitUntilExit()

        let stuck = Process()
        stuck.executableURL = URL(fileURLWithPath: "/bin/sleep")
        stuck.arguments = ["30"]
        stuck.currentDirectoryURL = URL(fileURLWithPath: workspace.source)
        try stuck.run()
        defer { kill(stuck.processIdentifier, SIGKILL); stuck.waitUntilExit() }
        try Files.write("", to: workspace.source + "/.git/index.lock")
        #expect(throws: KernelBuildError.treeBusy(tree: workspace.directory.path, pids: [stuck.processIdentifier])) {
            try workspace.removeStaleGitLocks(grace: 0.5)
        }
        #expect(Files.exists(workspace.source + "/.git/index.lock"))
    }
}
