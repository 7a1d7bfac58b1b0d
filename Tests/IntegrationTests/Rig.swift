import DaxRig
import Foundation

/// What the integration tests share: the real cache (so the default kernel is built
/// once for every suite, the CLI and the benchmarks), and paths of the built products.
enum Rig {
    static let cache = Cache.default
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The directory holding the built `daxrig` and `daxrig-agent` products.
    static var products: URL {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("daxrig").path), url.path != "/" {
            url = url.deletingLastPathComponent()
        }
        return url
    }

    static var daxrig: String { products.appendingPathComponent("daxrig").path }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var built: KernelArtifacts?

    /// The default kernel, built (or found in the cache) once per test process.
    static func defaultKernel() throws -> KernelArtifacts {
        lock.lock(); defer { lock.unlock() }
        if let built { return built }
        let artifacts = try KernelBuilder(cache: cache, progress: TerminalProgress(interval: 30)).build(.default)
        built = artifacts
        return artifacts
    }

    /// A fresh directory under /tmp for one test's store, files and reports; the test removes it.
    static func scratch(_ name: String) throws -> URL {
        let url = URL(fileURLWithPath: "/tmp/daxrig-\(name)-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs the built daxrig CLI.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Command.Output {
        try Command(daxrig, arguments, environment: environment).runAllowingFailure()
    }

    /// Runs the daxrig CLI as a child we can signal; returns it started.
    static func start(_ arguments: [String]) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: daxrig)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    /// Domains a daxrig process with this pid left running (our names carry the pid).
    static func domainsLeft(by pid: Int32) throws -> [String] {
        try LibvirtConnection().activeDomainNames().filter { $0.hasPrefix("daxrig-\(pid)-") }
    }

    /// Files a daxrig process with this pid left in the run area (run-<pid>-...).
    static func runFilesLeft(by pid: Int32, allowing allowed: Set<String> = []) -> [String] {
        runDirectoriesLeft(by: pid).flatMap { dir -> [String] in
            let files = (try? FileManager.default.contentsOfDirectory(atPath: cache.runs.appendingPathComponent(dir).path)) ?? []
            return files.filter { !allowed.contains($0) }.map { dir + "/" + $0 }
        }
    }

    /// Run directories (run-<pid>-...) a daxrig process with this pid left, empty or not.
    static func runDirectoriesLeft(by pid: Int32) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: cache.runs.path)) ?? []).filter { $0.hasPrefix("run-\(pid)-") }
    }
}
