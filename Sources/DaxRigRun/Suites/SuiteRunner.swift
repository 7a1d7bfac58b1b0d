import DaxRigImage
import DaxRigMachine
import DaxRigProtocol
import DaxRigSupport
import Foundation
import Synchronization

/// Runs each suite in a boot of its own (a suite that crashes the kernel takes no other
/// down with it), with its pmem mounted at /mnt/pmem, and judges its KTAP.
public struct SuiteRunner: Sendable {
    public let runner: GuestRunner
    /// What a suite may print before daxrig stops keeping it: a guest that floods its
    /// channel costs the host this much memory, no more. DAXRIG_SUITE_OUTPUT_LIMIT (bytes)
    /// lowers it for a test, which then floods in seconds instead of minutes.
    public static var outputLimit: Int {
        ProcessInfo.processInfo.environment["DAXRIG_SUITE_OUTPUT_LIMIT"].flatMap(Int.init).map { min(max($0, 4096), 64 << 20) } ?? 64 << 20
    }

    public init(runner: GuestRunner) { self.runner = runner }

    public func run(_ suites: [SuiteSpec], kernel: String, image: GuestImage, timeout: Double, vcpus: Int = BootRequest.defaultVCPUs,
                    output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> [SuiteResult] {
        try suites.map { suite in
            let request = Self.request(suite, kernel: kernel, timeout: timeout, vcpus: vcpus)
            let limit = Self.outputLimit
            let kept = SuiteOutput(limit: limit)
            let errors = OutputTail(limit: 2048)
            let started = Date()
            let boot = try runner.boot(request, image: image) { stream, data in
                if stream == .stdout { kept.append(data) } else { errors.append(data) }
                output(stream, data)
            }
            let (text, dropped) = kept.text()
            var document = KTAPDocument.parse(text)
            if case .commandExited = boot.outcome {} else if let log = boot.consoleLog {
                document = Self.recovered(document, console: ConsoleLog.read(log).text)
            }
            let overflow = dropped > 0 ? "the suite printed more than \(ByteSize.format(UInt64(limit))); \(dropped) bytes after that were not kept or judged" : nil
            let planned = suite.plannedTests
            let stderr = errors.text.trimmingCharacters(in: .whitespacesAndNewlines)
            let excerpt = SuiteJudge.excerpt(text)
                + (stderr.isEmpty ? "" : "\nstderr:\n" + stderr)
            let tests = SuiteJudge(suite: suite, planned: planned).judge(document, outcome: boot.outcome, findings: boot.findings,
                                                                          excerpt: excerpt, overflow: overflow)
            return SuiteResult(suite: suite, tests: tests, outcome: boot.outcome, consoleLog: boot.consoleLog,
                               seconds: Date().timeIntervalSince(started), printed: !text.isEmpty)
        }
    }

    /// What a runner wrote to the kernel log before a crash (`KernelLogMirror.prefix`
    /// lines: the plan, each test's name before it starts, each result), where the
    /// channel lost it: the agent reads a test's output after the test wrote it, and a
    /// panic in between leaves it unread, but a /dev/kmsg write is in the log before
    /// the next instruction, and a panic flushes the log to the console. The stream
    /// keeps the diagnostics and subtests it did get; the log says which test was
    /// running and what the plan was.
    static func recovered(_ stream: KTAPDocument, console: String) -> KTAPDocument {
        // Any newline: the serial console ends its lines with "\r\n", one Character.
        let mirrored = console.split(whereSeparator: \.isNewline).compactMap { line -> Substring? in
            guard let range = line.range(of: KernelLogMirror.prefix) else { return nil }
            return line[range.upperBound...]
        }
        guard !mirrored.isEmpty else { return stream }
        let log = KTAPDocument.parse(mirrored.joined(separator: "\n") + "\n")
        // Every result the stream has stays (with its diagnostics); the log adds only
        // results numbered past the stream's last, and names the running test only when
        // it saw at least as far as the stream (a log that dropped records says less).
        let last = stream.results.last?.number ?? 0
        let later = log.results.filter { $0.number > last }
        guard (log.results.last?.number ?? 0) >= last else { return stream }
        var merged = stream
        merged.results += later
        merged.plan = stream.plan ?? log.plan
        merged.version = stream.version ?? log.version
        if !later.isEmpty || merged.running == nil {
            merged.running = log.running ?? (later.isEmpty ? stream.running : nil)
            if !later.isEmpty { merged.trailing = []; merged.runningSubtests = [] }
        }
        return merged
    }

    static func request(_ suite: SuiteSpec, kernel: String, timeout: Double, vcpus: Int) -> BootRequest {
        // debugfs where the kernel's tests look for it (gup_test, LKDTM), as a distribution mounts it.
        let plan = GuestPlan(pmem: PmemSetup(fileSystem: suite.fileSystem),
                             command: ["/bin/sh", "-c", "mount -t debugfs none /sys/kernel/debug 2>/dev/null; cd /root && " + suite.command])
        var request = BootRequest(kernel: kernel, plan: plan, pmemSizes: [2 << 30], memoryMiB: suite.memoryMiB, vcpus: vcpus,
                                  timeout: suite.timeout ?? timeout)
        request.additions = suite.additions
        return request
    }
}

/// A suite's stdout up to a limit, and how much came past it.
final class SuiteOutput: Sendable {
    private let state = Mutex<(bytes: [UInt8], dropped: Int)>(([], 0))
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    func append(_ data: Data) {
        state.withLock { kept in
            let room = max(0, limit - kept.bytes.count)
            kept.bytes.append(contentsOf: data.prefix(room))
            kept.dropped += max(0, data.count - room)
        }
    }

    func text() -> (String, Int) {
        state.withLock { (String(decoding: $0.bytes, as: UTF8.self), $0.dropped) }
    }
}

/// The runner's lines in the kernel log: on a crash the console is what survives.
public enum KernelLogMirror {
    public static let prefix = "daxrig-ktap: "
}

extension SuiteSpec {
    /// The names a provider's generated runner will print, in order (nil for a user's command).
    public var plannedTests: [String]? {
        guard provider != nil, let testList, let list = try? SelftestList.load(testList) else { return nil }
        return list.entries.map(\.name)
    }
}
