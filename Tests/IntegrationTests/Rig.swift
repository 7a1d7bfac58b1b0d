import DaxRig
import Foundation
import Synchronization
import DaxRigKernel
import DaxRigMachine
import DaxRigSupport

/// What the integration tests share: the real cache (so the default kernel is built
/// once for every suite, the CLI and the benchmarks), and paths of the built products.
enum Rig {
    static let cache = Cache.default

    /// The python that has the report consumers (junitparser, kcidb-io): the virtual
    /// environment scripts/setup.sh makes under the cache, since Debian's python3 is
    /// externally managed (PEP 668); plain python3 where there is none.
    static var python: String {
        let venv = cache.root.appendingPathComponent("python/bin/python3").path
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : "python3"
    }
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
    /// Made by mkdtemp: a name nobody could have guessed and planted a link at, owned by
    /// us alone (root runs these tests).
    static func scratch(_ name: String) throws -> URL {
        var template = Array("/tmp/daxrig-\(name)-test-XXXXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw FileError.unwritable(path: "/tmp/daxrig-\(name)-test-*", reason: String(cString: strerror(errno))) }
        return URL(fileURLWithPath: String(cString: made))
    }

    /// Runs the built daxrig CLI.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Command.Output {
        try Command(daxrig, arguments, environment: environment).runAllowingFailure()
    }

    /// Removes the work tree of a source a test made (a temporary repository or
    /// directory). Trees are keyed by the source's path, so each run of the suite left
    /// another one behind, 1.6 GB or more (issue 14, item 7). Named from the path, not
    /// from the kernels built from it: a bisect whose kernels were all cache hits, or
    /// did not build, made a tree no cached kernel names, and nine were left.
    static func removeTree(of source: KernelSource) {
        guard let lineage = source.pathLineage else { return }
        Files.removeDirectory(cache.trees.appendingPathComponent(lineage).path)
    }

    /// Both outputs of a started child, read at once, and its end. Reading one pipe to
    /// its end before the other deadlocks a child that fills the other (64 KiB) first.
    static func finish(_ process: Process, _ out: Pipe, _ err: Pipe) -> (stdout: Data, stderr: Data) {
        let stderr = Drain(err.fileHandleForReading)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        stderr.wait()
        process.waitUntilExit()
        return (stdout, stderr.data)
    }

    /// A pipe read to its end on a thread of its own, what came so far readable at any
    /// time. A thread, not libdispatch's global queue, whose few threads the suite's many
    /// blocking readers used up (PipePump says more).
    final class Drain: Sendable {
        private let received = Mutex(Data())
        private let done = DispatchSemaphore(value: 0)

        init(_ handle: FileHandle) {
            Thread { [self] in
                while case let chunk = handle.availableData, !chunk.isEmpty { received.withLock { $0.append(chunk) } }
                done.signal()
            }.start()
        }

        var data: Data { received.withLock { $0 } }
        var text: String { String(decoding: data, as: UTF8.self) }
        func wait() { done.wait() }
    }

    /// The daxrig CLI started with its output thrown away, for a test that only signals
    /// it and reads what it left: pipes nobody reads stop a child once 64 KiB are in them.
    static func startDiscardingOutput(_ arguments: [String], in directory: URL? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: daxrig)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Runs the daxrig CLI as a child we can signal; returns it started.
    static func start(_ arguments: [String], environment: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: daxrig)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, given in given }
        }
        let out = Pipe(), err = Pipe()
        // Not the test runner's terminal: what daxrig does with a terminal (a shell, a
        // guest held for gdb) is tested on one of the test's own (tmux, script).
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    /// The live children of `pid`, from /proc.
    static func children(of pid: pid_t) -> [pid_t] {
        ProcessGroup.running().filter { $0.parent == pid }.map(\.pid)
    }

    /// A process's command line, its arguments joined by spaces ("" once it is gone).
    static func commandLine(of pid: pid_t) -> String {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return "" }
        return String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
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
    /// Only those changed since this test process started: pids are reused, and a kept
    /// console log of hours before (a failed boot's, in a shared cache) once passed for
    /// a leftover of a Ctrl-C trial whose daxrig had the same pid.
    static func runDirectoriesLeft(by pid: Int32) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: cache.runs.path)) ?? []).filter { name in
            guard name.hasPrefix("run-\(pid)-") else { return false }
            var status = stat()
            guard stat(cache.runs.appendingPathComponent(name).path, &status) == 0 else { return false }
            return Double(status.st_mtim.tv_sec) >= testProcessStarted
        }
    }

    /// When this test process started, in seconds since the epoch, from /proc (not a
    /// static set on first use, which could come after the directory it must catch).
    static let testProcessStarted: Double = {
        guard let fields = ProcessGroup.statFields(of: "self"), fields.count > 19, let ticks = Double(fields[19]),
              let boot = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?
                .split(separator: "\n").first(where: { $0.hasPrefix("btime ") })?.split(separator: " ").last.flatMap({ Double($0) })
        else { return 0 }
        return boot + ticks / Double(sysconf(Int32(_SC_CLK_TCK))) - 1
    }()
}
