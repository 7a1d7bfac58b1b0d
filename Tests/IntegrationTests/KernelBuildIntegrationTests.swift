import DaxRig
import Foundation
import Testing
import DaxRigKernel
import DaxRigSupport

/// Real kernel builds from Debian's linux-source-6.1. Serialized: they share one
/// work tree and two cores.
@Suite(.serialized, .timed) struct KernelBuildIntegrationTests {
    @Test func defaultKernelBuildsFromTheDebianTarballWithEveryRequestedOption() throws {
        let kernel = try Rig.defaultKernel()
        #expect(kernel.manifest.release.hasPrefix("6.1."))
        #expect(!kernel.manifest.release.hasSuffix("+"))
        #expect(Files.size(kernel.bzImage) > 1_000_000)
        let config = DotConfig(text: try Files.read(kernel.config))
        for option in ConfigFragment.pmemDax.options {
            #expect(config.value(of: option.name) == option.value, "\(option.name)")
        }
        #expect(Files.size(kernel.systemMap) > 0)
        #expect(try Files.read(kernel.buildLog).contains("bzImage"))
    }

    @Test func secondBuildIsACacheHitThatRunsNoMake() throws {
        let first = try Rig.defaultKernel()
        let again = try KernelBuilder(cache: Rig.cache).build(.default)
        #expect(again.cacheHit)
        #expect(again.directory.standardizedFileURL.path == first.directory.standardizedFileURL.path)
        #expect(again.manifest == first.manifest)
        // Through the CLI too: it says so, and prints the directory.
        let output = try Rig.run(["kernel", "build"])
        #expect(output.status == 0)
        #expect(output.standardOutput.contains("cache hit"))
        #expect(output.standardOutput.contains(first.directory.path))
    }

    @Test func patchThatDoesNotApplyNamesPatchFileAndHunkAndLeavesTheTreePristine() throws {
        _ = try Rig.defaultKernel()
        let dir = try Rig.scratch("badseries")
        defer { try? FileManager.default.removeItem(at: dir) }
        // The first patch applies; the second's context is not in fs/dax.c.
        try Files.write(try Files.read(Rig.packageRoot.path + "/kernels/patches/demo/0001-dax-say-at-boot-that-the-daxrig-demo-patch-is-applie.patch"), to: dir.path + "/0001-good.patch")
        try Files.write("""
            --- a/fs/dax.c
            +++ b/fs/dax.c
            @@ -57,3 +57,4 @@ static int __init init_dax_wait_table(void)
             {
            -\tint i, j, k;
            +\tint i;
            +\tint j;
            \u{20}
            """ + "\n", to: dir.path + "/0002-stale.patch")
        try Files.write("0001-good.patch\n0002-stale.patch\n", to: dir.path + "/series")
        let request = KernelBuildRequest(source: .default, patches: try PatchSeries.load(directory: dir.path), base: .tinyconfig, fragments: [.pmemDax], overrides: [])
        do {
            _ = try KernelBuilder(cache: Rig.cache).build(request)
            Issue.record("a stale patch applied")
        } catch let error as PatchError {
            guard case let .doesNotApply(patch, file, hunk, _) = error else { Issue.record("\(error)"); return }
            #expect(patch.hasSuffix("0002-stale.patch"))
            #expect(file == "fs/dax.c")
            #expect(hunk?.contains("hunk #1 @@ -57,3 +57,4 @@") == true)
        }
        // Nothing half-patched: the good first patch was rolled back too.
        let identity = try KernelSource.default.identity(cache: Rig.cache)
        let tree = Workspace(cache: Rig.cache, lineage: identity.lineage).source
        #expect(try Command("git", ["status", "--porcelain"], directory: tree).run().standardOutput.isEmpty)
        let key = try KernelBuilder(cache: Rig.cache).key(for: request).0
        #expect(KernelStore(cache: Rig.cache).artifacts(for: key) == nil)
    }

    @Test func optionsKconfigCannotSetAreNamedWithTheirDependencies() throws {
        _ = try Rig.defaultKernel()
        let output = try Rig.run(["kernel", "build", "--set", "CONFIG_KASAN=y", "--set", "CONFIG_DAXRIG_NO_SUCH_OPTION=y"])
        #expect(output.status == 2)
        let message = output.standardError
        #expect(message.contains("CONFIG_KASAN: requested y (--set), got not set"))
        #expect(message.contains("lib/Kconfig.kasan"))
        #expect(message.contains("depends on"))
        #expect(message.contains("CONFIG_DAXRIG_NO_SUCH_OPTION: requested y (--set), got not set; no Kconfig file defines DAXRIG_NO_SUCH_OPTION"))
    }

    /// The demo series with `token` in its boot message: a kernel no earlier run built,
    /// so this test's builds are never cache hits, whatever the cache holds.
    func demoSeries(_ token: String, in directory: URL) throws -> String {
        let name = "0001-dax-say-at-boot-that-the-daxrig-demo-patch-is-applie.patch"
        let text = try Files.read(Rig.packageRoot.path + "/kernels/patches/demo/" + name)
        let series = directory.appendingPathComponent(token).path
        try FileManager.default.createDirectory(atPath: series, withIntermediateDirectories: true)
        try Files.write(text.replacingOccurrences(of: "daxrig demo patch applied", with: "daxrig demo patch applied (\(token))"), to: series + "/" + name)
        try Files.write(name + "\n", to: series + "/series")
        return series
    }

    static func demoRequest(_ series: String) throws -> KernelBuildRequest {
        KernelBuildRequest(source: .default, patches: try PatchSeries.load(directory: series), base: .tinyconfig, fragments: [.pmemDax], overrides: [])
    }

    @Test func patchedKernelBuildsIncrementallyAndTwoConcurrentBuildsShareOneResult() throws {
        let plain = try Rig.defaultKernel()
        let directory = try Rig.scratch("demo-series")
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = UUID().uuidString.prefix(8)
        let first = try demoSeries("first-\(run)", in: directory)
        // Two daxrig processes asking for the same patched kernel at once: one builds,
        // the other waits on the lock and takes the result.
        let results = try [0, 1].map { _ -> Process in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Rig.daxrig)
            process.arguments = ["kernel", "build", "--patches", first, "--json"]
            process.standardOutput = Pipe()
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }.map { process -> (Int32, Data) in
            let data = (process.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, data)
        }
        #expect(results.map(\.0) == [0, 0])
        let manifests = try results.map { try JSONCoding.decoder.decode(KernelManifest.self, from: $0.1) }
        #expect(manifests[0].key == manifests[1].key)
        #expect(manifests[0].key != plain.manifest.key)
        #expect(manifests[0].patches.map(\.name) == ["0001-dax-say-at-boot-that-the-daxrig-demo-patch-is-applie.patch"])
        let built = try #require(KernelStore(cache: Rig.cache).list().first { $0.manifest.key == manifests[0].key })
        #expect(try Data(contentsOf: URL(fileURLWithPath: built.bzImage)) != Data(contentsOf: URL(fileURLWithPath: plain.bzImage)))

        // The same series with one changed line, built right after another build of it:
        // only the patched file (and the version stamp) recompile, not the kernel. Other
        // tests build other series, of this config and others, in the same work tree,
        // and applying their patches rewrites files and their mtimes: between two of our
        // builds that made make recompile 1108 files on a CI run. Holding the tree's lock
        // (reentrant on this thread) keeps them out between the two.
        let lineage = try KernelSource.default.identity(cache: Rig.cache).lineage
        let tree = try Rig.cache.lock("tree-\(lineage)")
        defer { tree.release() }
        let before = try KernelBuilder(cache: Rig.cache).build(Self.demoRequest(try demoSeries("before-\(run)", in: directory)))
        #expect(!before.cacheHit)
        let patched = try KernelBuilder(cache: Rig.cache).build(Self.demoRequest(try demoSeries("second-\(run)", in: directory)))
        #expect(!patched.cacheHit)
        #expect(try Files.read(patched.buildLog).contains("CC      fs/dax.o"))
        #expect(patched.manifest.changedSinceLastBuild == ["fs/dax.c"])
        #expect(patched.manifest.compiledFiles < 50, "\(patched.manifest.compiledFiles) files compiled")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: Rig.cache.kernels.path).filter { $0.hasPrefix(".staging") }
        #expect(leftovers.isEmpty)
    }

    /// Ctrl-C in the middle of make: daxrig exits only once every process of the make
    /// (sub-makes, ccache, the compilers) is gone. With SIGTERM to the top make alone
    /// and an immediate exit, that tree went on for about a second in a build
    /// directory whose lock daxrig's exit had released to the next daxrig.
    @Test func ctrlCDuringMakeLeavesNoProcessOfTheBuildRunning() throws {
        _ = try Rig.defaultKernel()
        // A config of its own (never a cache hit), so make runs in a build directory
        // made for it, long enough to be caught at it; removed after.
        let option = "CONFIG_LOCALVERSION=\"-ctrl-c-\(UUID().uuidString.prefix(8))\""
        let request = try KernelBuildRequest(source: .default, patches: nil, base: "tinyconfig", fragmentPaths: [], assignments: [option])
        let lineage = try KernelSource.default.identity(cache: Rig.cache).lineage
        let buildDirectory = Rig.cache.trees.appendingPathComponent(lineage)
            .appendingPathComponent("build-" + ContentHash.of(request.config.canonicalText).prefix(12)).path
        Files.removeDirectory(buildDirectory)
        defer { Files.removeDirectory(buildDirectory) }
        let process = try Rig.startDiscardingOutput(["kernel", "build", "--set", option])
        // The make of bzImage, a child of daxrig, and its sub-makes under way.
        let deadline = Date().addingTimeInterval(600)
        var make: pid_t?
        while make == nil, process.isRunning, Date() < deadline {
            make = Rig.children(of: process.processIdentifier).first { Rig.commandLine(of: $0).contains("bzImage") }
            usleep(50_000)
        }
        let group = try #require(make, "no make of bzImage was seen; daxrig exited \(process.isRunning ? "not" : "already")")
        // Interrupted once make has children of its own at work (a compiler, a sub-make).
        while ProcessGroup.liveMembers(of: group).count < 3, process.isRunning, Date() < deadline { usleep(50_000) }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let left = ProcessGroup.liveMembers(of: group)
        #expect(process.terminationStatus == 128 + SIGINT)
        #expect(left.isEmpty, "still running after daxrig exited: \(left.map { "\($0) \(Rig.commandLine(of: $0).prefix(80))" })")
    }
}
