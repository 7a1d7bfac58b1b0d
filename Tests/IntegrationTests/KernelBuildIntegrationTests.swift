import DaxRig
import Foundation
import Testing

/// Real kernel builds from Debian's linux-source-6.1. Serialized: they share one
/// work tree and two cores.
@Suite(.serialized) struct KernelBuildIntegrationTests {
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
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("daxrig-badseries-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
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

    @Test func patchedKernelBuildsIncrementallyAndTwoConcurrentBuildsShareOneResult() throws {
        let plain = try Rig.defaultKernel()
        let demo = Rig.packageRoot.path + "/kernels/patches/demo"
        // Two daxrig processes asking for the same patched kernel at once: one builds,
        // the other waits on the lock and takes the result.
        let results = try [0, 1].map { _ -> Process in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Rig.daxrig)
            process.arguments = ["kernel", "build", "--patches", demo, "--json"]
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
        let patched = try #require(KernelStore(cache: Rig.cache).list().first { $0.manifest.key == manifests[0].key })
        // Only the patched file (and the version stamp) recompile, not the kernel.
        let log = try Files.read(patched.buildLog)
        #expect(log.contains("CC      fs/dax.o"))
        #expect(patched.manifest.compiledFiles < 50 || patched.manifest.timings.makeSeconds == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: patched.bzImage)) != Data(contentsOf: URL(fileURLWithPath: plain.bzImage)))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: Rig.cache.kernels.path).filter { $0.hasPrefix(".staging") }
        #expect(leftovers.isEmpty)
    }
}
