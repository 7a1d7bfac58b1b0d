@testable import DaxRig
import Foundation
import Testing

/// One kernel work tree serves every build directory of its source (one per config),
/// and each build resets it and applies its own series. A header another config's
/// series patched, then reverted, is rewritten with its old content and a new mtime:
/// make, going by mtimes, rebuilt all that includes it (1,108 files when the series
/// patched mm.h). `ageUnchanged` gives such files back an old mtime. Shown here with
/// make itself on a tree of two files and an out-of-tree object.
@Suite struct WorkspaceMtimeTests {
    /// A workspace whose source holds x.c and a.h, and a Makefile that builds
    /// $(O)/x.o from both, as kbuild's dependency files make every object depend on
    /// its headers.
    func tree() throws -> (scratch: URL, workspace: Workspace) {
        let scratch = try Fixtures.temporaryDirectory()
        let workspace = Workspace(cache: Cache(root: scratch), lineage: "toy")
        try FileManager.default.createDirectory(atPath: workspace.source + "/.git", withIntermediateDirectories: true)
        try Files.write("#define A 1\n", to: workspace.source + "/a.h")
        try Files.write("#include \"a.h\"\n", to: workspace.source + "/x.c")
        try Files.write("$(O)/x.o: x.c a.h\n\tcat x.c a.h > $@\n", to: workspace.source + "/Makefile")
        try Files.write("git's own\n", to: workspace.source + "/.git/index")
        return (scratch, workspace)
    }

    /// 0 when make finds $(O)/x.o up to date, 1 when it would rebuild it.
    func makeWouldRebuild(_ workspace: Workspace) throws -> Bool {
        let result = try Command("make", ["-q", "O=" + workspace.build], directory: workspace.source).runAllowingFailure()
        return result.status != 0
    }

    func setModified(_ path: String, secondsAgo: Double) throws {
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-secondsAgo)], ofItemAtPath: path)
    }

    @Test func aHeaderRewrittenWithTheContentLastCompiledIsNotRebuiltAndAChangedOneIs() throws {
        let (scratch, workspace) = try tree()
        defer { try? FileManager.default.removeItem(at: scratch) }
        try FileManager.default.createDirectory(atPath: workspace.build, withIntermediateDirectories: true)
        // The last build: sources older than it, its object, then its end (the marker).
        for file in ["a.h", "x.c", "Makefile", ".git/index"] { try setModified(workspace.source + "/" + file, secondsAgo: 60) }
        try Command("make", ["O=" + workspace.build], directory: workspace.source).run()
        try setModified(workspace.build + "/x.o", secondsAgo: 30)
        let lastBuilt = Date().addingTimeInterval(-20)
        #expect(try !makeWouldRebuild(workspace))

        // Another config's series patched a.h and a reset put it back: same bytes, new mtime.
        try Files.write("#define A 1\n", to: workspace.source + "/a.h")
        try Files.write("git's own, rewritten\n", to: workspace.source + "/.git/index")
        #expect(try makeWouldRebuild(workspace))
        let aged = try workspace.ageUnchanged(rewrittenAfter: lastBuilt, changed: [])
        #expect(aged == ["a.h"])
        #expect(try !makeWouldRebuild(workspace))
        // git's own files are not the source's: left as they are.
        let index = try FileManager.default.attributesOfItem(atPath: workspace.source + "/.git/index")[.modificationDate] as? Date
        #expect(index.map { $0 > lastBuilt } == true)

        // A header that differs from what the last build compiled stays new: rebuilt.
        try Files.write("#define A 2\n", to: workspace.source + "/a.h")
        #expect(try workspace.ageUnchanged(rewrittenAfter: lastBuilt, changed: ["a.h"]).isEmpty)
        #expect(try makeWouldRebuild(workspace))
    }
}
