import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigImage
@testable import DaxRigKernel

@Suite struct PatchSeriesTests {
    /// The tests check finding 5's fix on v2 with its option off, standing in for
    /// kernels/patches/madv-cold-dax (Rig.tracedOptionOffKernel): that holds only while
    /// the two copies of the fix change the same lines, so their diffs must not drift.
    @Test func theMadvColdFixAloneIsTheSeriesFirstPatch() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        func diff(_ path: String) throws -> String {
            let text = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
            // From "diff --git" on, without the mail header (commit id, "[PATCH 1/7]").
            return String(try #require(text.range(of: "\ndiff --git ").map { text[$0.lowerBound...] }))
        }
        let alone = try diff("kernels/patches/madv-cold-dax/0001-mm-do-not-clear-DAX-PMDs-as-bad-page-tables.patch")
        let first = try diff("kernels/patches/fsdax-pmd-share/0001-mm-do-not-clear-DAX-PMDs-as-bad-page-tables.patch")
        #expect(alone == first)
        #expect(alone.contains("pmd_devmap(pmdval)"))
    }

    @Test func seriesSkipsCommentsAndBlankLinesAndReadsStripLevels() throws {
        let entries = try PatchSeries.parse(seriesText: """
            # the cover letter is not a patch
            0001-first.patch

            0002-second.patch -p0   # trailing comment
              0003-third.patch
            """, seriesPath: "series")
        #expect(entries.map(\.name) == ["0001-first.patch", "0002-second.patch", "0003-third.patch"])
        #expect(entries.map(\.strip) == [1, 0, 1])
        #expect(entries.map(\.line) == [2, 4, 5])
    }

    @Test func unknownOptionAfterAPatchNameIsAnErrorNamingTheLine() {
        #expect(throws: PatchError.badSeriesLine(series: "series", line: 1, text: "a.patch --fuzz", hint: "only '-pN' may follow a patch name")) {
            try PatchSeries.parse(seriesText: "a.patch --fuzz", seriesPath: "series")
        }
    }

    @Test func missingPatchFileIsNamedWithItsSeriesLine() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "# demo\nthere.patch\ngone.patch\n".write(to: dir.appendingPathComponent("series"), atomically: true, encoding: .utf8)
        try "--- a/x\n+++ b/x\n".write(to: dir.appendingPathComponent("there.patch"), atomically: true, encoding: .utf8)
        #expect(throws: PatchError.missingPatch(series: dir.path + "/series", line: 3, name: "gone.patch")) {
            try PatchSeries.load(directory: dir.path)
        }
    }

    @Test func directoryWithoutSeriesFileIsRejected() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: PatchError.noSeries(directory: dir.path, reason: "it has no 'series' file")) {
            try PatchSeries.load(directory: dir.path)
        }
    }

    @Test func shippedDemoSeriesLoadsAndParsesAsAMail() throws {
        let demo = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("kernels/patches/demo").path
        let series = try PatchSeries.load(directory: demo)
        #expect(series.patches.count == 1)
        let diff = UnifiedDiff(text: series.patches[0].text)
        #expect(diff.files.map(\.newPath) == ["fs/dax.c"])
        #expect(diff.files[0].hunks.count == 1)
    }

    @Test func unifiedDiffFindsTheHunkGitNamesByItsOldStartLine() {
        let diff = UnifiedDiff(text: """
            From 1234 Mon Sep 17 00:00:00 2001
            Subject: [PATCH] mm: two hunks

            ---
             mm/memory.c | 2 ++
            diff --git a/mm/memory.c b/mm/memory.c
            --- a/mm/memory.c
            +++ b/mm/memory.c
            @@ -10,3 +10,4 @@ int a;
             x
            +y
             z
            @@ -200,2 +201,3 @@ static void b(void)
             p
            +q
            --
            2.39.5
            """)
        #expect(diff.files.count == 1)
        #expect(diff.files[0].hunks.map(\.oldStart) == [10, 200])
        let found = diff.hunk(path: "mm/memory.c", oldLine: 200)
        #expect(found?.1.number == 2)
        #expect(found?.1.header == "@@ -200,2 +201,3 @@ static void b(void)")
    }

    @Test func gitApplyFailureBecomesAnErrorNamingPatchFileAndHunk() {
        let patch = PatchSeries.Entry(name: "0001-x.patch", path: "/s/0001-x.patch", stripLevel: 1, text: """
            --- a/fs/dax.c
            +++ b/fs/dax.c
            @@ -57,3 +57,4 @@ static int __init init_dax_wait_table(void)
             {
            +	pr_info("hi");
             	int i;
            """, hash: "h")
        // What git 2.39 prints for a hunk whose context is gone.
        let error = Workspace.applyError(patch: patch, gitOutput: """
            error: patch failed: fs/dax.c:57
            error: fs/dax.c: patch does not apply
            """)
        guard case let .doesNotApply(path, file, hunk, _) = error else { Issue.record("wrong error \(error)"); return }
        #expect(path == "/s/0001-x.patch")
        #expect(file == "fs/dax.c")
        #expect(hunk?.hasPrefix("hunk #1 @@ -57,3 +57,4 @@") == true)
        #expect(error.description.contains("reset to its pristine state"))
    }

    @Test func corruptPatchIsToldApartFromOneThatDoesNotFit() {
        let patch = PatchSeries.Entry(name: "0001-x.patch", path: "/s/0001-x.patch", stripLevel: 1, text: "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n x\n", hash: "h")
        let error = Workspace.applyError(patch: patch, gitOutput: "error: corrupt patch at line 8\n")
        guard case let .doesNotApply(_, file, hunk, _) = error else { Issue.record("wrong error \(error)"); return }
        #expect(file == "(none: the patch file is corrupt at line 8)")
        #expect(hunk == nil)
    }
}
