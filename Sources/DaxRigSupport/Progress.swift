import Foundation

/// Where long work reports how far it got: kernel builds, boots, workloads.
/// The library only emits; the CLI picks how it is shown.
public protocol ProgressSink: Sendable {
    /// A new phase began ("config", "compile", "boot"...), with a short detail.
    func phase(_ name: String, _ detail: String)
    /// Progress inside the phase: `done` of `expected` (when known), and the item at hand.
    func count(done: Int, expected: Int?, item: String)
    /// The work ended; a status line in place should be cleared.
    func finish()
}

/// Progress on standard error: one rewritten status line on a terminal, and on
/// anything else (a CI log) a line per phase plus a count line at most every
/// `interval` seconds, so logs stay short.
public final class TerminalProgress: ProgressSink, @unchecked Sendable {
    private let lock = NSLock()
    private let isTerminal: Bool
    private let interval: Double
    private var phaseName = ""
    private var phaseStart = Date()
    private var lastLine = Date.distantPast
    private var hasStatusLine = false

    public init(interval: Double = 15) {
        isTerminal = isatty(STDERR_FILENO) == 1
        self.interval = interval
    }

    public func phase(_ name: String, _ detail: String) {
        lock.lock(); defer { lock.unlock() }
        clearStatus()
        phaseName = name
        phaseStart = Date()
        write("[\(name)] \(detail)\n")
    }

    public func count(done: Int, expected: Int?, item: String) {
        lock.lock(); defer { lock.unlock() }
        let elapsed = Int(Date().timeIntervalSince(phaseStart))
        var text = "[\(phaseName)] \(done)"
        if let expected, expected > 0 { text += "/~\(expected) (\(min(99, done * 100 / expected))%)" }
        text += " files, \(elapsed / 60)m\(String(format: "%02d", elapsed % 60))s"
        if isTerminal {
            let width = 100
            let line = (text + "  " + item).prefix(width)
            write("\r\u{1B}[K" + line)
            hasStatusLine = true
        } else if Date().timeIntervalSince(lastLine) >= interval {
            lastLine = Date()
            write(text + "  " + item + "\n")
        }
    }

    public func finish() {
        lock.lock(); defer { lock.unlock() }
        clearStatus()
    }

    private func clearStatus() {
        if hasStatusLine { write("\r\u{1B}[K"); hasStatusLine = false }
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// Drops all progress: for --quiet and for tests that check results, not chatter.
public struct SilentProgress: ProgressSink {
    public init() {}
    public func phase(_ name: String, _ detail: String) {}
    public func count(done: Int, expected: Int?, item: String) {}
    public func finish() {}
}
