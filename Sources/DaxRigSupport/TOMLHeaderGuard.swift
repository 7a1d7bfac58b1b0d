/// Table headers checked before TOMLKit sees the text. toml++ 3.4, which TOMLKit wraps,
/// asserts instead of failing on some malformed headers (`[[{tress]]`: "Assertion
/// `is_bare_key_character(*cp) || is_string_delimiter(*cp)' failed", found by
/// FuzzTests), and the assertion is compiled into release builds too: a typo in a spec
/// aborted daxrig (exit 134) instead of naming the line (exit 2). The check walks the
/// text as TOML does (strings, comments, values spanning lines), so only a `[` that
/// starts a header is judged, and a header must be `[key]` or `[[key]]` with keys bare
/// (letters, digits, `-`, `_`) or quoted, joined by dots.
public enum TOMLHeaderGuard {
    struct Malformed: Error, Equatable {
        var line: Int
        var text: String
    }

    public static func check(_ text: String) throws {
        let bytes = Array(text.utf8)
        var index = 0, line = 1, lineStart = true
        // Open arrays and inline tables, and what the last significant byte opened: toml++
        // also asserts on a value position that holds a terminator (`["a", }"b"]`).
        var open: [UInt8] = []
        var depth: Int { open.count }
        var expecting: UInt8?  // "=", "[", "{" or "," while a value must come next
        func malformed() -> Malformed {
            let start = bytes[..<min(index, bytes.count)].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            let end = bytes[min(index, bytes.count)...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            return Malformed(line: line, text: String(decoding: bytes[start..<end], as: UTF8.self))
        }
        /// A terminator where a value must be: only `[]`, `[1,]` and `{}` are TOML.
        func checkTerminator(_ byte: UInt8) throws {
            guard let last = expecting else { return }
            let fine = (byte == UInt8(ascii: "]") && (last == UInt8(ascii: "[") || (last == UInt8(ascii: ",") && open.last == UInt8(ascii: "["))))
                || (byte == UInt8(ascii: "}") && last == UInt8(ascii: "{"))
            if !fine { throw malformed() }
        }
        func at(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }
        func starts(_ token: String) -> Bool {
            let token = Array(token.utf8)
            return index + token.count <= bytes.count && Array(bytes[index..<index + token.count]) == token
        }
        /// Skips a string that starts at `index`; newlines inside multi-line strings count.
        func skipString() {
            let quote = bytes[index]
            let multi = starts(quote == UInt8(ascii: "\"") ? "\"\"\"" : "'''")
            index += multi ? 3 : 1
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "\\") && quote == UInt8(ascii: "\"") {
                    if at(1) == UInt8(ascii: "\n") { line += 1 }
                    index += 2
                    continue
                }
                if bytes[index] == UInt8(ascii: "\n") { if !multi { return }; line += 1 }
                if bytes[index] == quote && (!multi || starts(String(repeating: Character(UnicodeScalar(quote)), count: 3))) {
                    index += multi ? 3 : 1
                    return
                }
                index += 1
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\n"):
                line += 1
                lineStart = depth == 0
                if depth == 0 { expecting = nil }
                index += 1
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                index += 1
            case UInt8(ascii: "#"):
                while index < bytes.count && bytes[index] != UInt8(ascii: "\n") { index += 1 }
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                lineStart = false
                expecting = nil
                skipString()
            case UInt8(ascii: "[") where lineStart:
                let end = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
                let header = bytes[index..<end]
                guard isHeader(Array(header)) else { throw Malformed(line: line, text: String(decoding: header, as: UTF8.self)) }
                index = end
                lineStart = false
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                open.append(byte)
                expecting = byte
                lineStart = false
                index += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                try checkTerminator(byte)
                guard let top = open.popLast(), top == (byte == UInt8(ascii: "]") ? UInt8(ascii: "[") : UInt8(ascii: "{")) else { throw malformed() }
                expecting = nil
                index += 1
            case UInt8(ascii: ","):
                try checkTerminator(byte)
                expecting = open.isEmpty ? nil : byte
                index += 1
            case UInt8(ascii: "="):
                expecting = byte
                lineStart = false
                index += 1
            default:
                lineStart = false
                expecting = nil
                index += 1
            }
        }
    }

    /// `[key]` or `[[key]]`, keys dotted, then only blanks or a comment.
    static func isHeader(_ bytes: [UInt8]) -> Bool {
        var index = 0
        func skipBlanks() { while index < bytes.count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") { index += 1 } }
        func isBare(_ byte: UInt8) -> Bool {
            (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
        func key() -> Bool {
            guard index < bytes.count else { return false }
            let quote = bytes[index]
            if quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") {
                index += 1
                while index < bytes.count, bytes[index] != quote {
                    if bytes[index] == UInt8(ascii: "\\") && quote == UInt8(ascii: "\"") { index += 1 }
                    index += 1
                }
                guard index < bytes.count else { return false }
                index += 1
                return true
            }
            let start = index
            while index < bytes.count, isBare(bytes[index]) { index += 1 }
            return index > start
        }
        guard bytes.first == UInt8(ascii: "[") else { return false }
        index = 1
        let array = index < bytes.count && bytes[index] == UInt8(ascii: "[")
        if array { index += 1 }
        skipBlanks()
        guard key() else { return false }
        skipBlanks()
        while index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            skipBlanks()
            guard key() else { return false }
            skipBlanks()
        }
        for _ in 0..<(array ? 2 : 1) {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "]") else { return false }
            index += 1
        }
        skipBlanks()
        return index == bytes.count || bytes[index] == UInt8(ascii: "#") || bytes[index] == UInt8(ascii: "\r")
    }
}
