import Foundation
import Synchronization

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
public final class TerminalProgress: ProgressSink, Sendable {
    private struct State {
        var phaseName = ""
        var phaseStart = Date()
        var lastLine = Date.distantPast
        var hasStatusLine = false

        mutating func clearStatus() {
            if hasStatusLine { TerminalProgress.write("\r\u{1B}[K"); hasStatusLine = false }
        }
    }

    private let state = Mutex(State())
    private let isTerminal: Bool
    private let interval: Double

    public init(interval: Double = 15) {
        isTerminal = isatty(STDERR_FILENO) == 1
        self.interval = interval
    }

    public func phase(_ name: String, _ detail: String) {
        state.withLock { state in
            state.clearStatus()
            state.phaseName = name
            state.phaseStart = Date()
            Self.write("[\(name)] \(detail)\n")
        }
    }

    public func count(done: Int, expected: Int?, item: String) {
        state.withLock { state in
            let elapsed = Int(Date().timeIntervalSince(state.phaseStart))
            var text = "[\(state.phaseName)] \(done)"
            if let expected, expected > 0 { text += "/~\(expected) (\(min(99, done * 100 / expected))%)" }
            text += " files, \(elapsed / 60)m\(String(format: "%02d", elapsed % 60))s"
            if isTerminal {
                let width = 100
                let line = (text + "  " + item).prefix(width)
                Self.write("\r\u{1B}[K" + line)
                state.hasStatusLine = true
            } else if Date().timeIntervalSince(state.lastLine) >= interval {
                state.lastLine = Date()
                Self.write(text + "  " + item + "\n")
            }
        }
    }

    public func finish() {
        state.withLock { $0.clearStatus() }
    }

    private static func write(_ text: String) {
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
