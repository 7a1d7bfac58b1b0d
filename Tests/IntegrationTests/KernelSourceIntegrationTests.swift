import DaxRig
import Foundation
import Testing
import DaxRigKernel
import DaxRigSupport

/// A kernel tree directory as the source, built for real from a copy of the pristine
/// tree the default build extracted, so ccache serves most of its compiles. A git
/// repository at a ref is built at the end of the bisect test
/// (BisectIntegrationTests.aRefBuildsWithoutTouchingTheUsersCheckout), in the work tree
/// the bisect made, instead of a tree of its own.
@Suite(.serialized, .timed) struct KernelSourceIntegrationTests {
    /// The default lineage's pristine work tree (a git repository of daxrig's own).
    func pristineTree() throws -> String {
        _ = try Rig.defaultKernel()
        let identity = try KernelSource.default.identity(cache: Rig.cache)
        return Workspace(cache: Rig.cache, lineage: identity.lineage).source
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

        // Then as a fresh checkout of the same tree leaves it (every mtime new), with one
        // file changed. Only that file is compiled: the workspace takes content, not
        // mtimes (rsync --checksum --no-times). With rsync -a the new mtimes came along
        // and make compiled all 1,350 files again: ccache hits, still 100 s and 130 CPU-s.
        // The changed file is also in the workspace already, with that content and an
        // mtime older than its object (as a copy that kept its mtime, or a killed sync,
        // leaves one): rsync leaves it alone, make alone would skip it, and only the
        // builder's touch of every file that changed since the build directory's last
        // build (StaleObjects stays as the check after) gets it compiled.
        // (Built once as it is first, so this tree's objects exist even when the
        // pristine kernel came from the cache; the comment above is unique to this run,
        // so neither build is a cache hit.)
        #expect(try Rig.run(["kernel", "build", "--source", directory]).status == 0)
        try Command("sh", ["-c", "find . -type f -exec touch {} +"], directory: directory).run()
        let changed = try Files.read(directory + "/fs/dax.c") + "\nint daxrig_stale_guard_marker = 1;\n"
        let workspace = Workspace(cache: Rig.cache, lineage: try KernelSource.directory(path: directory).identity(cache: Rig.cache).lineage).source
        for tree in [directory, workspace] {
            try Files.write(changed, to: tree + "/fs/dax.c")
            try Command("touch", ["-d", "2020-01-01 00:00:00", tree + "/fs/dax.c"]).run()
        }
        let stale = try Rig.run(["kernel", "build", "--source", directory, "--json"])
        #expect(stale.status == 0, "\(stale.standardError.suffix(2000))")
        #expect(stale.standardError.contains("fs/dax.o"), "\(stale.standardError.suffix(2000))")
        let rebuilt = try JSONCoding.decoder.decode(KernelManifest.self, from: Data(stale.standardOutput.utf8))
        #expect(rebuilt.compiledFiles < 20, "\(rebuilt.compiledFiles) files compiled for one changed file")
        let artifacts = try #require(KernelStore(cache: Rig.cache).list().first { $0.manifest.key == rebuilt.key })
        #expect(try Files.read(artifacts.systemMap).contains("daxrig_stale_guard_marker"))
    }
}
