import Foundation

/// One line of KTAP output taken apart on its bytes, so that tens of megabytes of guest
/// output cost one pass and no String work until a line is kept.
///
/// A line's nesting shows in its prefix: indentation (KTAP, KUnit, TAP 14) and "# "
/// markers (kselftest's runner.sh prefixes a test binary's whole output with "# ", so a
/// nested KTAP arrives as "# ok 1 foo"). The prefix is kept as `segments`: the columns of
/// whitespace before the first marker, then after each marker (its one separating blank
/// not counted). Every marker before a structural line counts as a level; before other
/// lines the reader decides how many belong to a level (see `remainder(within:)`).
struct KTAPLine {
    enum Kind: Equatable {
        case version(String)
        case plan(Int, comment: String, skip: String?)
        case result(Result)
        case bailOut(String)
        case subtest(String)
        /// A diagnostic or unknown line: which depends on the level it lands at.
        case other
    }

    struct Result: Equatable {
        var ok: Bool
        /// nil when missing, or too long to be a number (`unreadable`).
        var number: Int?
        var unreadable = false
        var name: String
        var directive: KTAPResult.Directive?
        var reason = ""
        /// A "# ..." after the description that is no directive ("# exit=1").
        var comment = ""
    }

    /// More markers than levels the reader keeps are content.
    static let maxSegments = KTAPReader.maxDepth + 2

    let bytes: UnsafeBufferPointer<UInt8>
    private(set) var segments: [Int] = []
    /// Where each segment's whitespace starts.
    private(set) var starts: [Int] = [0]
    private(set) var kind = Kind.other

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        var index = 0
        var columns = 0
        while true {
            while index < bytes.count, Self.isBlank(bytes[index]) {
                columns += bytes[index] == 9 ? 8 : 1
                index += 1
            }
            guard index < bytes.count, bytes[index] == UInt8(ascii: "#"), segments.count < Self.maxSegments - 1,
                  index + 1 == bytes.count || Self.isBlank(bytes[index + 1]) else { break }
            segments.append(columns)
            columns = 0
            index = min(bytes.count, index + 2)
            starts.append(index)
        }
        segments.append(columns)
        kind = classify(from: index)
    }

    /// The prefix that places a structural line: a "# Subtest:" line's last marker is its own.
    var key: ArraySlice<Int> {
        if case .subtest = kind { return segments.dropLast() }
        return segments[...]
    }

    /// Whether a line with this prefix can belong to a level whose structural lines have `key`:
    /// the same markers, and at least the level's indentation after the last of them.
    static func fits(_ segments: ArraySlice<Int>, _ key: [Int]) -> Bool {
        guard let last = key.last, segments.count >= key.count else { return false }
        let base = segments.startIndex
        for index in 0..<(key.count - 1) where segments[base + index] != key[index] { return false }
        return segments[base + key.count - 1] >= last
    }

    /// The text of an other line once the prefix of a level with `key` is taken off: a
    /// diagnostic without its "# ", or an unknown line keeping any deeper indentation.
    func remainder(within key: [Int]) -> (diagnostic: Bool, text: String) {
        guard !key.isEmpty else { return (false, text(0, bytes.count)) }
        let level = min(key.count, starts.count) - 1
        var index = starts[level]
        var columns = 0
        while index < bytes.count, Self.isBlank(bytes[index]) {
            let width = bytes[index] == 9 ? 8 : 1
            if columns + width > key[level] { break }
            columns += width
            index += 1
        }
        var first = index
        while first < bytes.count, Self.isBlank(bytes[first]) { first += 1 }
        guard first < bytes.count, bytes[first] == UInt8(ascii: "#") else { return (false, text(index, bytes.count)) }
        first += 1
        if first < bytes.count, Self.isBlank(bytes[first]) { first += 1 }
        return (true, text(first, bytes.count))
    }

    // MARK: Classification

    private func classify(from start: Int) -> Kind {
        if has("ok", at: start, word: true) { return .result(result(ok: true, from: start + 2)) }
        if has("not ok", at: start, word: true) { return .result(result(ok: false, from: start + 6)) }
        if has("KTAP version", at: start) || has("TAP version", at: start) { return .version(text(start, bytes.count)) }
        if has("Bail out!", at: start) { return .bailOut(trimmed(start + 9, bytes.count)) }
        if segments.count > 1, has("Subtest:", at: start), case let name = trimmed(start + 8, bytes.count), !name.isEmpty {
            return .subtest(name)
        }
        if has("1..", at: start) { return plan(from: start + 3) }
        return .other
    }

    private func plan(from start: Int) -> Kind {
        let end = digitsEnd(from: start)
        guard end > start, end - start <= 18, let count = Int(text(start, end)) else { return .other }
        let after = skipBlanks(from: end)
        if after == bytes.count { return .plan(count, comment: "", skip: nil) }
        guard bytes[after] == UInt8(ascii: "#"), after > end else { return .other }
        let (directive, reason) = directive(from: after + 1)
        return .plan(count, comment: trimmed(after + 1, bytes.count), skip: directive == .skip ? reason : nil)
    }

    private func result(ok: Bool, from start: Int) -> Result {
        let numberStart = skipBlanks(from: start)
        let numberEnd = digitsEnd(from: numberStart)
        var result = Result(ok: ok, number: nil, name: "")
        if numberEnd > numberStart {
            result.number = numberEnd - numberStart <= 18 ? Int(text(numberStart, numberEnd)) : nil
            result.unreadable = result.number == nil
        }
        let description = skipBlanks(from: numberEnd)
        var hash = description
        while hash < bytes.count, bytes[hash] != UInt8(ascii: "#") || (hash > description && !Self.isBlank(bytes[hash - 1])) {
            hash += 1
        }
        var name = trimmed(description, hash)
        if name == "-" { name = "" } else if name.hasPrefix("- ") { name = String(name.dropFirst(2)) }
        result.name = name
        if hash < bytes.count {
            let (directive, reason) = directive(from: hash + 1)
            result.directive = directive
            if directive != nil { result.reason = reason } else { result.comment = trimmed(hash + 1, bytes.count) }
        }
        return result
    }

    /// A directive keyword after a '#', in any case; "Skipped" and "skipping" are SKIP too.
    private func directive(from start: Int) -> (KTAPResult.Directive?, String) {
        let wordStart = skipBlanks(from: start)
        var wordEnd = wordStart
        while wordEnd < bytes.count, Self.isLetter(bytes[wordEnd]) { wordEnd += 1 }
        let word = text(wordStart, min(wordEnd, wordStart + 16)).lowercased()
        let directive: KTAPResult.Directive? = switch word {
        case _ where word.hasPrefix("skip"): .skip
        case "todo": .todo
        case "xfail": .xfail
        case "timeout": .timeout
        case "error": .error
        default: nil
        }
        guard directive != nil else { return (nil, "") }
        var reason = skipBlanks(from: wordEnd)
        if reason < bytes.count, bytes[reason] == UInt8(ascii: ":") { reason += 1 }
        return (directive, trimmed(reason, bytes.count))
    }

    // MARK: Bytes

    static func isBlank(_ byte: UInt8) -> Bool { byte == 32 || byte == 9 }
    static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) >= 97 && (byte | 0x20) <= 122 }

    private func has(_ literal: StaticString, at start: Int, word: Bool = false) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - start >= count else { return false }
        let pointer = literal.utf8Start
        for index in 0..<count where bytes[start + index] != pointer[index] { return false }
        return !word || start + count == bytes.count || Self.isBlank(bytes[start + count])
    }

    private func digitsEnd(from start: Int) -> Int {
        var end = start
        while end < bytes.count, bytes[end] >= 48, bytes[end] <= 57 { end += 1 }
        return end
    }

    private func skipBlanks(from start: Int) -> Int {
        var index = start
        while index < bytes.count, Self.isBlank(bytes[index]) { index += 1 }
        return index
    }

    private func text(_ start: Int, _ end: Int) -> String {
        guard start < end else { return "" }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    private func trimmed(_ start: Int, _ end: Int) -> String {
        var end = min(end, bytes.count)
        while end > start, Self.isBlank(bytes[end - 1]) { end -= 1 }
        return text(skipBlanks(from: start), end)
    }
}
