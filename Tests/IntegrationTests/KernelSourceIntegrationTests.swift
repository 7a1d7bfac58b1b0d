import DaxRig
import Foundation
import Testing
import DaxRigKernel
import DaxRigSupport

/// The other two kinds of kernel source, built for real: a kernel tree directory and
/// a git repository at a ref. Both start from the pristine tree the default build
/// extracted, so ccache serves most of their compiles.
@Suite(.serialized, .timed) struct KernelSourceIntegrationTests {
    /// The default lineage's pristine work tree (a git repository of daxrig's own).
    func pristineTree() throws -> String {
        _ = try Rig.defaultKernel()
        let identity = try KernelSource.default.identity(cache: Rig.cache)
        return Workspace(cache: Rig.cache, lineage: identity.lineage).source
    }

    @Test func gitRepositoryAtARefBuildsWithoutTouchingTheUsersCheckout() throws {
        let tree = try pristineTree()
        let scratch = try Rig.scratch("git-source")
        let repo = scratch.appendingPathComponent("linux").path
        defer {
            Rig.removeTree(of: .git(repository: repo, ref: "HEAD"))
            Files.removeDirectory(scratch.path)
        }
        // A user's repository: the 6.1 tree plus one commit (the demo patch).
        try Command("git", ["clone", "-q", "--shared", tree, repo]).run()
        try Command("git", ["-C", repo, "am", "-q", Rig.packageRoot.path + "/kernels/patches/demo/0001-dax-say-at-boot-that-the-daxrig-demo-patch-is-applie.patch"],
                    environment: ["GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"]).run()
        try Files.write("a user's uncommitted work\n", to: repo + "/UNCOMMITTED")
        let head = try Command("git", ["-C", repo, "rev-parse", "HEAD"]).run().standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)

        let output = try Rig.run(["kernel", "build", "--git", repo, "--ref", "HEAD", "--json"])
        #expect(output.status == 0, "\(output.standardError)")
        let manifest = try JSONCoding.decoder.decode(KernelManifest.self, from: Data(output.standardOutput.utf8))
        #expect(manifest.sourceIdentity.kind == "git")
        #expect(manifest.sourceIdentity.id == head)
        #expect(manifest.release.hasPrefix("6.1."))
        // The commit's change is in the kernel: fs/dax.c was compiled with it.
        let built = try #require(KernelStore(cache: Rig.cache).list().first { $0.manifest.key == manifest.key })
        #expect(try Files.read(built.buildLog).contains("fs/dax.o") || manifest.compiledFiles == 0)
        // The user's checkout is as it was: same HEAD, uncommitted file untouched, no build output.
        #expect(try Command("git", ["-C", repo, "rev-parse", "HEAD"]).run().standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == head)
        #expect(try Files.read(repo + "/UNCOMMITTED") == "a user's uncommitted work\n")
        // Nothing else appeared, ignored files included (the kernel's .gitignore ignores "/*").
        #expect(try Command("git", ["-C", repo, "status", "--porcelain", "--ignored"]).run().standardOutput == "!! UNCOMMITTED\n")
        // A ref that is not there is named.
        let bad = try Rig.run(["kernel", "build", "--git", repo, "--ref", "no-such-branch"])
        #expect(bad.status == 2)
        #expect(bad.standardError.contains("no-such-branch is not a commit in \(repo)"))
    }

    @Test func kernelTreeDirectoryIsCopiedAndBuiltAndKeyedByContent() throws {
        let tree = try pristineTree()
        let scratch = try Rig.scratch("dir-source")
        let directory = scratch.appendingPathComponent("linux").path
        defer {
            Rig.removeTree(of: .directory(path: directory))
            Files.removeDirectory(scratch.path)
        }
        try Command("git", ["clone", "-q", "--shared", tree, directory]).run()
        Files.remove(directory + "/.git")

        let first = try Rig.run(["kernel", "build", "--source", directory, "--json"])
        #expect(first.status == 0, "\(first.standardError)")
        let manifest = try JSONCoding.decoder.decode(KernelManifest.self, from: Data(first.standardOutput.utf8))
        #expect(manifest.sourceIdentity.kind == "directory")
        // Same contents: a cache hit. A changed file: a new key.
        let again = try Rig.run(["kernel", "build", "--source", directory])
        #expect(again.standardOutput.contains("cache hit"))
        try Files.write(try Files.read(directory + "/fs/dax.c") + "\n/* changed \(UUID().uuidString) */\n", to: directory + "/fs/dax.c")
        let identity = try KernelSource.directory(path: directory).identity(cache: Rig.cache)
        #expect(identity.id != manifest.sourceIdentity.id)
        // The directory itself was never written to by the build.
        #expect(!Files.exists(directory + "/.config"))
        #expect(!Files.exists(directory + "/vmlinux"))

        // A changed file older than its object (copied with its mtime, as rsync -a
        // does): make alone would leave it out; the builder touches every file that
        // changed since the build directory's last build before make runs, so make
        // compiles it in its first pass (StaleObjects stays as the check after).
        // (Built once as it is first, so this tree's objects exist even when the
        // pristine kernel came from the cache; the comment above is unique to this run,
        // so neither build is a cache hit.)
        #expect(try Rig.run(["kernel", "build", "--source", directory]).status == 0)
        try Files.write(try Files.read(directory + "/fs/dax.c") + "\nint daxrig_stale_guard_marker = 1;\n", to: directory + "/fs/dax.c")
        try Command("touch", ["-d", "2020-01-01 00:00:00", directory + "/fs/dax.c"]).run()
        let stale = try Rig.run(["kernel", "build", "--source", directory, "--json"])
        #expect(stale.status == 0, "\(stale.standardError.suffix(2000))")
        #expect(stale.standardError.contains("fs/dax.o"), "\(stale.standardError.suffix(2000))")
        let rebuilt = try JSONCoding.decoder.decode(KernelManifest.self, from: Data(stale.standardOutput.utf8))
        let artifacts = try #require(KernelStore(cache: Rig.cache).list().first { $0.manifest.key == rebuilt.key })
        #expect(try Files.read(artifacts.systemMap).contains("daxrig_stale_guard_marker"))
    }
}
