import CBytes
import Foundation

/// A console log cut into lines, and the lines a text may be on, found in the log's
/// bytes rather than line by line through Foundation's `contains` (CFStringFind).
/// That way every scan cost 1.2 s per MiB in the debug build the tests run, and
/// ConsoleWatch scans a growing console every 5 s: the two flood tests' daxrigs spent
/// 40 CPU-seconds scanning. glibc's memmem goes over the whole log once per text.
struct ConsoleLines {
    let log: String
    /// Each line, as `log.split(omittingEmptySubsequences: false, whereSeparator:
    /// \.isNewline)` cuts them ("\r\n" is one break), without walking Characters.
    let lines: [Substring]
    /// Where each line starts, in UTF-8 bytes from the log's start.
    private let starts: [Int]

    init(_ log: String) {
        // withUTF8, not withContiguousStorageIfAvailable: it never declines, so a log can
        // never come out as one unmarked line, read as clean.
        var log = log
        var starts = [0]
        var ends: [Int] = []
        log.withUTF8 { bytes in
            var index = 0
            while index < bytes.count {
                let width = Self.newlineWidth(bytes, at: index)
                if width == 0 { index += 1; continue }
                ends.append(index)
                index += width
                starts.append(index)
            }
        }
        ends.append(log.utf8.count)
        self.log = log
        let utf8 = log.utf8
        lines = zip(starts, ends).map { start, end in
            log[utf8.index(utf8.startIndex, offsetBy: start)..<utf8.index(utf8.startIndex, offsetBy: end)]
        }
        self.starts = starts
    }

    /// The bytes of the line break at `index`, or 0: the Characters for which
    /// `isNewline` holds, LF, VT, FF, CR, CR LF, NEL (U+0085), LS and PS (U+2028/9).
    /// Each is a grapheme of its own (a break is always a boundary), so bytes and
    /// Characters cut the same.
    private static func newlineWidth(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int {
        switch bytes[index] {
        case 0x0A, 0x0B, 0x0C: return 1
        case 0x0D: return index + 1 < bytes.count && bytes[index + 1] == 0x0A ? 2 : 1
        case 0xC2: return index + 1 < bytes.count && bytes[index + 1] == 0x85 ? 2 : 0
        case 0xE2:
            return index + 2 < bytes.count && bytes[index + 1] == 0x80 && (bytes[index + 2] == 0xA8 || bytes[index + 2] == 0xA9) ? 3 : 0
        default: return 0
        }
    }

    /// Whether each line holds at least one of `texts` (none of which holds a line break).
    func holding(any texts: [String]) -> [Bool] {
        var marked = [Bool](repeating: false, count: lines.count)
        var log = log
        log.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return }
            for text in texts where !text.isEmpty {
                var needle = Array(text.utf8)
                var offset = 0
                while offset < bytes.count, let found = memmem(base + offset, bytes.count - offset, &needle, needle.count) {
                    let at = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                    let line = line(containing: at)
                    marked[line] = true
                    // The rest of that line is marked already: go on from the next one.
                    offset = line + 1 < starts.count ? max(at + 1, starts[line + 1]) : bytes.count
                }
            }
        }
        return marked
    }

    /// Whether `line` holds `text`, byte for byte: the test `holding(any:)` makes, so a
    /// line it passes over never matches. (Foundation's `contains` also takes canonical
    /// equivalents: "\u{212A}ernel panic" for "Kernel panic". The kernel prints ASCII.)
    static func holds(_ line: Substring, _ text: String) -> Bool {
        var line = line, text = text
        return line.withUTF8 { bytes in
            text.withUTF8 { needle in
                guard let base = bytes.baseAddress, let needleBase = needle.baseAddress else { return needle.isEmpty }
                return memmem(base, bytes.count, needleBase, needle.count) != nil
            }
        }
    }

    /// The line a byte offset falls in: the last whose start is at or before it.
    private func line(containing offset: Int) -> Int {
        var low = 0, high = starts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if starts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        return low
    }
}
