/// One line of /proc/mounts.
public struct MountEntry: Equatable, Sendable {
    public var source: String
    public var mountPoint: String
    public var type: String
    public var options: [String]

    public init(source: String, mountPoint: String, type: String, options: [String]) {
        (self.source, self.mountPoint, self.type, self.options) = (source, mountPoint, type, options)
    }

    /// /proc/mounts' text, with its octal escapes (\\040 for a space) undone; lines of
    /// fewer than four fields are skipped.
    public static func parseTable(_ text: String) -> [MountEntry] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count >= 4 else { return nil }
            return MountEntry(source: unescape(fields[0]), mountPoint: unescape(fields[1]), type: String(fields[2]),
                              options: fields[3].split(separator: ",").map(String.init))
        }
    }

    private static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
               let value = UInt8(String(decoding: utf8[(index + 1)...(index + 3)], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
