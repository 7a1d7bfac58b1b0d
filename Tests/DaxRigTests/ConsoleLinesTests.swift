import Foundation
import DaxRigProtocol
import Testing
@testable import DaxRigMachine

/// ConsoleLines stands in for `split(whereSeparator: \.isNewline)` and Foundation's
/// `contains` in every console scan: held here against both, on logs built from the
/// pieces that could make bytes and Characters disagree.
@Suite struct ConsoleLinesTests {
    /// Every line break `isNewline` knows, CR LF and a lone CR, next to multi-byte and
    /// combining characters, the Kelvin sign, the needles' own pieces, and nothing.
    static let pieces = ["\n", "\r", "\r\n", "\u{0B}", "\u{0C}", "\u{85}", "\u{2028}", "\u{2029}", "a", " ", "é", "e\u{301}",
                         "\u{301}", "\u{212A}", "K", "BUG", "BUG:", " [#", ": bad p", "md ", "Oops:", "WARNING:", "🙂", "\u{FFFD}", "\0", "",
                         CaseMarker.beginning("a"), CaseMarker.beginning("b"), CaseMarker.end, "daxrig: case"]

    static func logs(count: Int) -> [String] {
        var random = Mutator(seed: 0xC0_1E5)
        return (0..<count).map { _ in (0..<random.below(40)).map { _ in pieces[random.below(pieces.count)] }.joined() }
    }

    @Test func linesAreCutWhereCharactersSayNewline() {
        for log in Self.logs(count: 3_000) + ["", "\n", "\r\n\r\n", "a\r", "\r\na"] {
            let expected = log.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
            #expect(ConsoleLines(log).lines.map(String.init) == expected, "\(log.debugDescription)")
        }
    }

    @Test func theMarkedLinesAreExactlyThoseHoldingANeedleByteForByte() {
        let needles = ConsoleScanner.needles
        for log in Self.logs(count: 3_000) {
            let console = ConsoleLines(log)
            let expected = console.lines.map { line in needles.contains { Array(line.utf8).firstRange(of: Array($0.utf8)) != nil } }
            #expect(console.holding(any: needles) == expected, "\(log.debugDescription)")
        }
    }

    /// The marking skips lines no pattern can match; were a needle missing a pattern's
    /// text, that pattern's findings would be skipped with it.
    @Test func everyLineAPatternMatchesIsMarked() {
        let lines = ConsoleScanner.patterns.map { pattern -> String in
            switch pattern.match {
            case let .text(text): "[    1.000000] x\(text)y"
            case .dieHeader: "[    1.000000] invalid opcode: 0000 [#1] PREEMPT SMP"
            case .slabReport: "[    1.000000] BUG kmalloc-64 (Not tainted): Poison overwritten"
            }
        }
        let console = ConsoleLines(lines.joined(separator: "\r\n"))
        #expect(console.holding(any: ConsoleScanner.needles) == Array(repeating: true, count: lines.count))
        #expect(ConsoleScanner.scan(lines.joined(separator: "\n")).count >= 1)
        #expect(ConsoleScanner.needles.count < Set(ConsoleScanner.patterns.map(\.needle)).count)
    }

    /// ConsoleSections looks only at the lines holding a marker; its sections are those
    /// of every line looked at, as it did before.
    @Test func sectionsAreThoseOfEveryLineReadInTurn() {
        for log in Self.logs(count: 3_000) {
            var expected: [String: Range<Int>] = [:]
            var open: (name: String, line: Int)?
            for (index, line) in log.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
                let begins = line.range(of: CaseMarker.begins)
                guard begins != nil || line.contains(CaseMarker.end) else { continue }
                if let current = open, expected[current.name] == nil { expected[current.name] = current.line..<(index + 1) }
                open = begins.map { (String(line[$0.upperBound...]).trimmingCharacters(in: .whitespaces), index + 1) }
            }
            if let current = open, expected[current.name] == nil { expected[current.name] = current.line..<Int.max }
            #expect(ConsoleSections(log: log).cases == expected, "\(log.debugDescription)")
        }
    }

    /// Foundation's `contains` matched canonical equivalents: U+212A (KELVIN SIGN) for
    /// "K". A guest writing that to /dev/kmsg made a panic of a line the kernel never
    /// prints; the scan now matches bytes.
    @Test func aLookAlikeOfAReportIsNotOne() {
        #expect(ConsoleScanner.scan("[    1.0] \u{212A}ernel panic - not syncing: no\n").isEmpty)
        #expect(ConsoleScanner.scan("[    1.0] Kernel panic - not syncing: yes\n").map(\.kind) == [.panic])
    }
}
