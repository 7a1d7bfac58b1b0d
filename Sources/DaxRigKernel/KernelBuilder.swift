import Foundation
import Synchronization
import DaxRigSupport

/// Turns a build request into a kernel in the cache: a hit returns at once; a miss
/// prepares the workspace, applies the series, resolves and verifies the config,
/// runs make out of tree, and stores the artifacts atomically.
public struct KernelBuilder: Sendable {
    public let cache: Cache
    public let progress: ProgressSink

    public init(cache: Cache = .default, progress: ProgressSink = SilentProgress()) {
        self.cache = cache
        self.progress = progress
    }

    /// The key a request builds to, computed without touching the work tree.
    public func key(for request: KernelBuildRequest) throws -> (KernelKey, KernelSource.Identity, String) {
        let identity = try request.source.identity(cache: cache)
        let compiler = try Toolchain.compilerVersion()
        let key = KernelKey.compute(source: identity, patches: request.patches, config: request.config,
                                    compiler: compiler, arch: Toolchain.arch)
        return (key, identity, compiler)
    }

    public func build(_ request: KernelBuildRequest) throws -> KernelArtifacts {
        let started = Date()
        try cache.checkOwnership()
        let (key, identity, compiler) = try key(for: request)
        if let hit = KernelStore(cache: cache).artifacts(for: key) {
            if let series = request.patches { try? KernelPatches.keep(series, in: hit.directory) }
            return hit
        }

        // One builder per key; the second process waits and then finds the hit.
        let keyLock = try cache.lock("kernel-\(key.value)")
        defer { keyLock.release() }
        if let hit = KernelStore(cache: cache).artifacts(for: key) { return hit }
        let treeLock = try cache.lock("tree-\(identity.lineage)")
        defer { treeLock.release() }

        var workspace = Workspace(cache: cache, lineage: identity.lineage)
        // One build directory per requested config: switching between configs (the
        // default and a tracing or debug kernel) must not turn the next build cold.
        workspace.configFlavor = String(ContentHash.of(request.config.canonicalText).prefix(12))
        var clock = Date()
        func lap() -> Double { defer { clock = Date() }; return Date().timeIntervalSince(clock) }

        let pristine = try workspace.preparePristine(request.source, identity: identity, progress: progress)
        let sourceSeconds = lap()
        if let series = request.patches { try workspace.apply(series, pristine: pristine, progress: progress) }
        let patchSeconds = lap()

        let logDirectory = try cache.directory(cache.root.appendingPathComponent("logs"))
        let logPath = logDirectory.appendingPathComponent("build-\(key.value).log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? log.close() }

        let dotConfig = try resolveConfig(request.config, workspace: workspace, log: log, logPath: logPath)
        let configSeconds = lap()
        let (compiled, ccache, changed) = try make(workspace: workspace, config: dotConfig, key: key, log: log, logPath: logPath)
        let makeSeconds = lap()

        let release = (try? Files.read(workspace.build + "/include/config/kernel.release"))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
        let manifest = KernelManifest(
            key: key.value, release: release, source: request.source, sourceIdentity: identity,
            patches: request.patches?.patches.map { .init(name: $0.name, sha256: $0.hash) } ?? [],
            patchSeries: request.patches?.directory,
            configBase: request.config.base.description, fragments: request.fragments.map(\.name),
            requested: request.config.options.map(\.description),
            configSHA256: ContentHash.of(dotConfig), compiler: compiler, arch: Toolchain.arch,
            compiledFiles: compiled, changedSinceLastBuild: changed, ccache: ccache,
            timings: .init(sourceSeconds: sourceSeconds, patchSeconds: patchSeconds, configSeconds: configSeconds,
                           makeSeconds: makeSeconds, totalSeconds: Date().timeIntervalSince(started)),
            created: Date())
        try log.synchronize()
        return try store(manifest, series: request.patches, workspace: workspace, logPath: logPath)
    }

    /// Base config, then the requests, then olddefconfig, in the workspace's config
    /// directory; then checks that every request survived.
    func resolveConfig(_ config: RequestedConfig, workspace: Workspace, log: FileHandle, logPath: String) throws -> String {
        progress.phase("config", "\(config.base) + \(config.options.count) requested options, olddefconfig")
        let dir = workspace.configDirectory
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        switch config.base {
        case .tinyconfig: try runMake(["tinyconfig"], workspace: workspace, output: dir, log: log, logPath: logPath, step: "tinyconfig")
        case .defconfig: try runMake(["defconfig"], workspace: workspace, output: dir, log: log, logPath: logPath, step: "defconfig")
        case let .file(path, _):
            try Files.write(try Files.read(path), to: dir + "/.config")
        }
        let base = try Files.read(dir + "/.config")
        try Files.write(config.apply(to: base), to: dir + "/.config")
        try runMake(["olddefconfig"], workspace: workspace, output: dir, log: log, logPath: logPath, step: "olddefconfig")
        let text = try Files.read(dir + "/.config")
        let final = DotConfig(text: text)
        let unmet = final.unmet(config)
        if !unmet.isEmpty {
            throw ConfigError.unmet(unmet.map { item in
                UnmetOption(option: item.option, actual: item.actual,
                            dependencies: Kconfig.entry(for: item.option.symbol, in: workspace.source, config: final))
            })
        }
        return text
    }

    /// make bzImage in the reused build directory. The .config is replaced only when
    /// it changed, so an unchanged config costs kbuild nothing.
    func make(workspace: Workspace, config: String, key: KernelKey, log: FileHandle, logPath: String) throws -> (compiled: Int, ccache: Bool, changed: [String]?) {
        try FileManager.default.createDirectory(atPath: workspace.build, withIntermediateDirectories: true)
        let target = workspace.build + "/.config"
        if (try? Files.read(target)) != config { try Files.write(config, to: target) }
        let ccache = Command.which("ccache") != nil
        let expected = KernelStore(cache: cache).list()
            .filter { $0.manifest.sourceIdentity.lineage == workspace.directory.lastPathComponent }
            .map(\.manifest.compiledFiles).max()
        // What changed since the last build in this directory: make goes by mtimes, and
        // a changed file older than its object (a tree copied with its mtimes kept) would
        // be left out of the kernel without a word.
        let marker = workspace.build + "/.daxrig-tree"
        let tree = try workspace.snapshot()
        var changed: [String]?
        if let previous = try? Files.read(marker) {
            changed = try workspace.changedFiles(from: previous.trimmingCharacters(in: .whitespacesAndNewlines), to: tree)
        }
        // Every file that differs from the last build is newer than every object, before
        // make looks: git rewrote it at some point since, but an object a killed make
        // or an interrupted build wrote later may not be of it. Touching costs nothing a
        // correct build would not pay (make would rebuild what depends on it anyway).
        for path in changed ?? [] where Files.exists(workspace.source + "/" + path) {
            _ = utimes(workspace.source + "/" + path, nil)
        }
        progress.phase("compile", "make -j\(Toolchain.cores) bzImage in \(workspace.build)" + (ccache ? " (ccache)" : ""))
        let counter = Counter()
        func runBuild() throws {
            try runMake(["bzImage"], workspace: workspace, output: workspace.build, log: log, logPath: logPath, step: "build", ccache: ccache) { line in
                switch MakeOutput.classify(line) {
                case let .compiled(file):
                    self.progress.count(done: counter.increment(), expected: expected, item: file)
                case let .phase(name, detail):
                    self.progress.phase(name, detail)
                case .other:
                    break
                }
            }
        }
        let makeStarted = Date()
        try runBuild()
        let missed = StaleObjects.missed(changed: changed ?? [], source: workspace.source, build: workspace.build, builtSince: makeStarted)
        if !missed.isEmpty {
            let note = "daxrig: make left \(missed.count) changed file(s) uncompiled, their mtimes older than their objects: "
                + missed.prefix(8).joined(separator: ", ") + "; touched them and ran make again\n"
            log.write(Data(note.utf8))
            progress.phase("compile", String(note.dropLast()))
            for path in missed { _ = utimes(workspace.source + "/" + path, nil) }
            try runBuild()
        }
        // The tree's gdb helpers are their own target (`all` builds them, bzImage does not).
        if config.split(separator: "\n").contains("CONFIG_GDB_SCRIPTS=y") {
            try runMake(["scripts_gdb"], workspace: workspace, output: workspace.build, log: log, logPath: logPath, step: "scripts_gdb")
        }
        try Files.write(tree, to: marker)
        progress.finish()
        return (counter.value, ccache, changed)
    }

    private func runMake(_ targets: [String], workspace: Workspace, output: String, log: FileHandle, logPath: String,
                         step: String, ccache: Bool = false, onLine: (@Sendable (String) -> Void)? = nil) throws {
        var arguments = ["-C", workspace.source, "O=" + output, "-j\(Toolchain.cores)",
                         "KBUILD_BUILD_USER=daxrig", "KBUILD_BUILD_HOST=daxrig"]
        // Set (even empty), LOCALVERSION stops setlocalversion from appending "+" for
        // the workspace's own git repository: the release names the kernel, not our tree.
        var environment: [String: String] = ["LOCALVERSION": ProcessInfo.processInfo.environment["LOCALVERSION"] ?? ""]
        if ccache {
            arguments.append("CC=ccache gcc")
            // Paths below the cache root hash as relative, so ccache hits across trees.
            environment["CCACHE_BASEDIR"] = cache.root.path
            // Depend mode keys on the compiler's own -MD output instead of running the
            // preprocessor first: on a miss (every file of a cold build) the default
            // mode preprocesses each kernel file twice, +31% on mm/ here; depend mode
            // costs nothing measurable.
            environment["CCACHE_DEPEND"] = "1"
        }
        let handle = Mutex(log)
        let result = try Command("make", arguments + targets, environment: environment).runAllowingFailure { line, _ in
            handle.withLock { $0.write(Data((line + "\n").utf8)) }
            onLine?(line)
        }
        if result.status != 0 {
            progress.finish()
            let text = result.standardOutput + "\n" + result.standardError
            if let reason = MakeOutput.hostFailure(in: text, status: result.status) {
                throw KernelBuildError.hostFailed(step: step, reason: reason, log: logPath)
            }
            throw KernelBuildError.makeFailed(step: step, errors: MakeOutput.firstErrors(in: text), log: logPath)
        }
    }

    /// Copies the artifacts into a temporary directory and renames it into place, so
    /// the cache holds a whole kernel or none.
    private func store(_ manifest: KernelManifest, series: PatchSeries?, workspace: Workspace, logPath: String) throws -> KernelArtifacts {
        Leftovers.sweep(cache)
        let staging = try Files.temporaryDirectory(in: cache.kernels, prefix: ".staging-")
        do {
            let kept = KernelFiles(directory: staging)
            for (from, to) in [("arch/x86/boot/bzImage", kept.bzImage), (".config", kept.config), ("System.map", kept.systemMap)] {
                try FileManager.default.copyItem(atPath: workspace.build + "/" + from, toPath: to)
            }
            try KernelDebugFiles.copy(from: workspace.build, to: staging)
            try FileManager.default.copyItem(atPath: logPath, toPath: staging.appendingPathComponent("build.log").path)
            try Files.write(JSONCoding.encoder.encode(manifest), to: staging.appendingPathComponent("manifest.json").path)
            if let series { try KernelPatches.keep(series, in: staging) }
            let final = cache.kernels.appendingPathComponent(manifest.key)
            Files.remove(final.path)
            try FileManager.default.moveItem(at: staging, to: final)
            Files.remove(logPath)
            return try KernelArtifacts.load(final, cacheHit: false)
        } catch {
            Files.remove(staging.path)
            throw error
        }
    }
}

/// Changed sources make did not compile: their object is there but older than the
/// make that should have rebuilt it.
enum StaleObjects {
    static func missed(changed: [String], source: String, build: String, builtSince: Date) -> [String] {
        changed.filter { path in
            guard path.hasSuffix(".c") || path.hasSuffix(".S"), Files.exists(source + "/" + path) else { return false }
            var st = stat()
            guard stat(build + "/" + path.dropLast(2) + ".o", &st) == 0 else { return false }
            let built = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
            return built < builtSince.timeIntervalSince1970
        }
    }
}

/// A count shared with make's output callback.
final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func increment() -> Int { count.withLock { $0 += 1; return $0 } }
}
