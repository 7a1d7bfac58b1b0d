import Foundation

/// Reads a guest's serial console for the kernel's own reports of trouble. The
/// console carries kernel messages only (the agent talks on its own channel), so
/// every match is the kernel speaking.
public struct ConsoleFinding: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case panic, oops, bug, kasan, softLockup = "soft-lockup", hungTask = "hung-task"
        case badPageState = "bad-page-state", pgtablesBytes = "pgtables-bytes", rssCounter = "rss-counter"
        case warning

        /// Kinds after which the kernel can no longer be trusted to have run the test.
        public var isCrash: Bool { self != .warning }
    }

    public var kind: Kind
    /// 1-based line of the console log where it starts.
    public var line: Int
    /// The matching line and what followed it (the trace), trimmed.
    public var excerpt: String

    public var description: String { "\(kind.rawValue) at console line \(line):\n\(excerpt)" }
}

public enum ConsoleScanner {
    /// Patterns in priority order: the first that matches a line names its kind, so
    /// "BUG: non-zero pgtables_bytes" is an accounting finding, not a generic BUG.
    static let patterns: [(String, ConsoleFinding.Kind)] = [
        ("Kernel panic - not syncing", .panic),
        ("BUG: non-zero pgtables_bytes", .pgtablesBytes),
        ("BUG: Bad rss-counter", .rssCounter),
        ("BUG: Bad page state", .badPageState),
        ("Bad page state", .badPageState),
        ("BUG: KASAN", .kasan),
        ("BUG: soft lockup", .softLockup),
        ("watchdog: BUG: soft lockup", .softLockup),
        ("blocked for more than", .hungTask),
        ("Oops:", .oops),
        ("BUG:", .bug),
        ("kernel BUG at", .bug),
        ("WARNING:", .warning),
    ]

    /// Every finding in `log`, each with up to `context` following lines as its excerpt.
    public static func scan(_ log: String, context: Int = 12) -> [ConsoleFinding] {
        // Serial output ends lines with "\r\n", which Swift reads as one Character.
        let lines = log.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        var findings: [ConsoleFinding] = []
        var index = 0
        while index < lines.count {
            let line = lines[index]
            if var kind = patterns.first(where: { line.contains($0.0) })?.1 {
                // A report runs to its "---[ end trace" marker when there is one nearby;
                // it is one finding, named by its most specific line (a BUG whose block
                // says "Oops:" is an oops).
                let horizon = min(lines.count, index + 60)
                let marker = (index + 1..<horizon).first { lines[$0].contains("---[ end ") }
                if kind == .bug, let marker, lines[index...marker].contains(where: { $0.contains("Oops:") }) { kind = .oops }
                let end = min(lines.count, index + 1 + context)
                let excerpt = lines[index..<end].joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
                findings.append(ConsoleFinding(kind: kind, line: index + 1, excerpt: excerpt))
                index = marker.map { $0 + 1 } ?? index + 1
                continue
            }
            index += 1
        }
        return findings
    }
}
