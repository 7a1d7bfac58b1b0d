import Foundation
import DaxRigSupport

/// Builds the kernel's own mm selftests on the host, from the tree the kernel under test
/// was built from, statically linked: the guest is busybox and has no libc to load.
/// Cached like kernels, by the source's identity, the series and the compiler, so a
/// second run on the same tree compiles nothing (18 s of `make headers_install` and a
/// few seconds of gcc the first time, measured here).
public struct SelftestBuilder: Sendable {
    public let cache: Cache
    public let progress: ProgressSink

    public init(cache: Cache = .default, progress: ProgressSink = SilentProgress()) {
        self.cache = cache
        self.progress = progress
    }

    /// The directory of the built mm selftests for `kernel` (what built; a test whose
    /// program is missing there is skipped in the guest, naming the build log).
    public func buildMM(for kernel: KernelArtifacts) throws -> String {
        let manifest = kernel.manifest
        let compiler = try Toolchain.compilerVersion()
        let key = ContentHash.of((["selftests-mm 1", manifest.sourceIdentity.id, compiler]
            + manifest.patches.map(\.sha256)).joined(separator: "\n")).prefix(20)
        let root = try cache.directory(cache.selftests)
        let done = root.appendingPathComponent(String(key))
        if Files.exists(done.appendingPathComponent("mm").path) { return done.appendingPathComponent("mm").path }
        let lock = try cache.lock("selftests-\(key)")
        defer { lock.release() }
        if Files.exists(done.appendingPathComponent("mm").path) { return done.appendingPathComponent("mm").path }

        let workspace = Workspace(cache: cache, lineage: manifest.sourceIdentity.lineage)
        let commit = try pristineCommit(manifest.sourceIdentity, workspace: workspace)
        // Named as Leftovers knows: a daxrig that dies here leaves it to the next sweep.
        let scratch = try Files.temporaryDirectory(in: root, prefix: ".building-")
        defer { Files.remove(scratch.path) }
        let source = scratch.appendingPathComponent("src").path
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        let log = scratch.appendingPathComponent("build.log").path
        progress.phase("selftests", "mm selftests of \(manifest.release) from \(manifest.sourceIdentity.lineage) \(commit.prefix(12))")
        // Only what `make headers_install` and the tests read: a sixth of the tree.
        let tar = scratch.appendingPathComponent("src.tar").path
        try Command("git", ["-C", workspace.source, "archive", "--output=" + tar, commit,
                            "Makefile", "scripts", "include", "arch/x86", "tools", "mm"]).run()
        try Command("tar", ["-xf", tar, "-C", source]).run()
        Files.remove(tar)
        try applySeries(kernel, to: source)
        let headers = scratch.appendingPathComponent("usr").path
        try make(["-C", source, "O=" + scratch.appendingPathComponent("headers").path, "headers_install", "INSTALL_HDR_PATH=" + headers],
                 step: "selftests headers_install", log: log)
        let directory = ["mm", "vm"].map { source + "/tools/testing/selftests/" + $0 }.first { Files.exists($0 + "/Makefile") }
        guard let directory else {
            throw KernelBuildError.makeFailed(step: "selftests", errors: "the tree has no tools/testing/selftests/mm (or vm)", log: log)
        }
        let output = scratch.appendingPathComponent("mm").path
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        // -k: a test that needs a library this host lacks is left out, not the suite; the
        // guest then skips it by name (SelftestList.script).
        let result = try Command("make", ["-k", "-C", directory, "OUTPUT=" + output, "KHDR_INCLUDES=-isystem " + headers + "/include",
                                          "LDFLAGS=-static", "-j\(Toolchain.cores)"]).runAllowingFailure()
        try append(result.standardOutput + result.standardError, to: log)
        let built = (try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []
        guard !built.isEmpty else {
            throw KernelBuildError.makeFailed(step: "selftests", errors: Command.tail(result.standardError), log: log)
        }
        for name in built { _ = try? Command("strip", [output + "/" + name]).run() }
        // The log, then the tests, into place; `mm` last, as it is what says "built". A
        // directory a killed build left without `mm` is no build.
        Files.remove(done.path)
        try FileManager.default.createDirectory(at: done, withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: log, toPath: done.appendingPathComponent("build.log").path)
        try FileManager.default.moveItem(atPath: output, toPath: done.appendingPathComponent("mm").path)
        progress.phase("selftests", "\(built.count) mm selftests built (log: \(done.appendingPathComponent("build.log").path))")
        return done.appendingPathComponent("mm").path
    }

    /// The commit of the workspace that holds the kernel's pristine source.
    func pristineCommit(_ identity: KernelSource.Identity, workspace: Workspace) throws -> String {
        switch identity.kind {
        case "git":
            return identity.id
        case "tarball":
            let marker = workspace.directory.appendingPathComponent("pristine-\(identity.id.prefix(16))").path
            if let commit = try? Files.read(marker).trimmingCharacters(in: .whitespacesAndNewlines), !commit.isEmpty { return commit }
        default:
            let found = try Command("git", ["-C", workspace.source, "log", "--all", "-1", "--format=%H", "--grep=" + identity.id.prefix(16)])
                .runAllowingFailure().standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            if !found.isEmpty { return found }
        }
        throw KernelBuildError.sourceMissing(path: workspace.source, hint: "the kernel's source is no longer in daxrig's work tree; build the kernel again (daxrig kernel build)")
    }

    /// The series' changes to the tests and the headers they read, from the patches the
    /// kernel was built with (KernelPatches: kept with it, checked by hash).
    func applySeries(_ kernel: KernelArtifacts, to source: String) throws {
        guard let series = try KernelPatches.series(of: kernel) else { return }
        for patch in series.patches {
            try Command("git", ["apply", "-p\(patch.stripLevel)", "--include=tools/*", "--include=include/uapi/*",
                                "--include=arch/x86/include/uapi/*", "--include=mm/gup_test.h", patch.path], directory: source).run()
        }
    }

    private func make(_ arguments: [String], step: String, log: String) throws {
        let result = try Command("make", ["-s"] + arguments).runAllowingFailure()
        try append(result.standardOutput + result.standardError, to: log)
        if result.status != 0 { throw KernelBuildError.makeFailed(step: step, errors: Command.tail(result.standardError), log: log) }
    }

    private func append(_ text: String, to path: String) throws {
        let existing = (try? Files.read(path)) ?? ""
        try Files.write(existing + text, to: path)
    }
}
