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

    /// Runs the built daxrig CLI.
    static func run(_ arguments: [String]) throws -> Command.Output {
        try Command(daxrig, arguments).runAllowingFailure()
    }
}
