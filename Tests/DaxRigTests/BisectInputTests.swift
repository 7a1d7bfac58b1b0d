import Foundation
import Testing
import DaxRigMachine
@testable import DaxRig
@testable import DaxRigKernel
@testable import DaxRigSupport
@testable import DaxRigRun

/// What a bisect keeps and refuses (issue 14, item 4): absolute paths, inputs gone at
/// a resume, a second bisect in one state directory, and host failures of make.
@Suite struct BisectInputTests {
    @Test func pathsAreKeptAbsoluteAndNamedBasesStayNames() {
        let request = BisectRequest(repository: "linux", good: "v6.1", bad: "HEAD", specPath: "specs/x.toml",
                                    oracle: BisectOracle(expectations: []), patches: "../series",
                                    base: "tinyconfig", fragments: ["a.config", "/abs/b.config"], store: "r.sqlite")
            .absolute(in: "/work/tree")
        #expect(request.repository == "/work/tree/linux")
        #expect(request.specPath == "/work/tree/specs/x.toml")
        #expect(request.patches == "/work/series")
        #expect(request.fragments == ["/work/tree/a.config", "/abs/b.config"])
        #expect(request.base == "tinyconfig")
        #expect(request.store == "/work/tree/r.sqlite")
        let file = BisectRequest(repository: "/r", good: "a", bad: "b", specPath: "/s", oracle: BisectOracle(expectations: []),
                                 base: "my.config").absolute(in: "/home/u")
        #expect(file.base == "/home/u/my.config")
    }

    func runner(_ root: URL) -> BisectRunner {
        BisectRunner(runner: GuestRunner(cache: Cache(root: root.appendingPathComponent("cache"))),
                     directory: root.appendingPathComponent("state"))
    }

    @Test func aResumeWhoseSeriesIsGoneStopsNamingItInsteadOfSkippingEveryCommit() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let bisect = runner(root)
        try FileManager.default.createDirectory(at: bisect.directory, withIntermediateDirectories: true)
        let state = BisectState(repository: "/nonexistent/linux", good: "g", bad: "b", goodCommit: "1", badCommit: "2",
                                specPath: "/s.toml", specText: "", oracle: BisectOracle(expectations: []), runs: 1,
                                patches: root.appendingPathComponent("gone-series").path, base: "tinyconfig",
                                fragments: [], assignments: [], store: "/tmp/x.sqlite", started: Date(), steps: [])
        try bisect.save(state)
        #expect(throws: BisectError.missingInput(what: "patch series", path: root.appendingPathComponent("gone-series").path)) {
            try bisect.resume()
        }
    }

    @Test func aSecondBisectInTheSameStateDirectoryIsRefused() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let first = runner(root)
        let held = try first.lock()
        #expect(throws: BisectError.busy(directory: first.directory.path)) { try runner(root).resume() }
        #expect(throws: BisectError.busy(directory: first.directory.path)) { try runner(root).reset() }
        held.release()
        #expect(throws: BisectError.noBisect(directory: first.directory.path)) { try runner(root).resume() }
    }

    @Test func makeFailuresOfTheHostAreToldFromFailuresOfTheSource() {
        #expect(MakeOutput.hostFailure(in: "  CC      mm/memory.o\nmm/memory.c:1:1: fatal error: error writing to /tmp/ccX.s: No space left on device", status: 2)?
            .hasPrefix("the disk is full") == true)
        #expect(MakeOutput.hostFailure(in: "gcc: fatal error: Killed signal terminated program cc1\ncompilation terminated.", status: 2)?
            .contains("killed") == true)
        #expect(MakeOutput.hostFailure(in: "", status: 128 + SIGKILL) == "make was killed by signal 9 (the OOM killer?)")
        // A real compile error is the commit's: skipped, not a rig failure.
        #expect(MakeOutput.hostFailure(in: "fs/dax.c:1844:17: error: ‘dax_pmd_fallbacks’ undeclared (first use in this function)\nmake[3]: *** [fs/dax.o] Error 1", status: 2) == nil)
    }
}
