import Foundation
import TOMLKit

/// A user's TOML file (specs, matrices) read so that every complaint names the file,
/// the line and the key. TOMLKit parses and reports syntax errors with a position, but
/// its values carry none; `TOMLFile` finds a key's line in the text itself.
public struct TOMLFile: Sendable {
    public let path: String
    public let text: String
    let root: TOMLTableBox

    public init(path: String, text: String) throws {
        self.path = path
        self.text = text
        do {
            try TOMLHeaderGuard.check(text)
            root = TOMLTableBox(try TOMLTable(string: text))
        } catch let malformed as TOMLHeaderGuard.Malformed {
            throw InputFileError(file: path, line: malformed.line, key: nil, message: "`\(malformed.text.prefix(80))` is not a table header",
                                 hint: "write [name] or [[name]]: letters, digits, - and _, or a quoted name, dotted")
        } catch let error as TOMLParseError {
            throw InputFileError(file: path, line: error.source.begin.line, key: nil,
                                 message: "not valid TOML: \(error.description)", hint: "fix the syntax at that line")
        }
    }

    public static func load(_ path: String) throws -> TOMLFile {
        guard Files.exists(path) else {
            throw InputFileError(file: path, line: nil, key: nil, message: "no such file", hint: "check the path")
        }
        return try TOMLFile(path: path, text: Files.read(path))
    }

    /// The top-level table.
    public var top: TOMLSection { TOMLSection(file: self, header: nil, occurrence: 0, table: root.table) }

    /// `[name]`, if the file has it.
    public func table(_ name: String) throws -> TOMLSection? {
        guard let value = root.table[name] else { return nil }
        guard let table = value.table else {
            throw top.error(name, "must be a table ([\(name)]), not \(value.type)")
        }
        return TOMLSection(file: self, header: name, occurrence: 0, table: table)
    }

    /// Every `[[name]]`, in order.
    public func arrayOfTables(_ name: String) throws -> [TOMLSection] {
        guard let value = root.table[name] else { return [] }
        guard let array = value.array else { throw top.error(name, "must be an array of tables ([[\(name)]])") }
        return try array.enumerated().map { index, element in
            guard let table = element.table else { throw top.error(name, "must be an array of tables ([[\(name)]])") }
            return TOMLSection(file: self, header: name, occurrence: index, table: table)
        }
    }

    /// The line of `key` inside the `occurrence`-th section called `header` (nil: the
    /// top level), or of the section's header when the key is not written there.
    public func line(of key: String?, header: String?, occurrence: Int) -> Int? {
        var current: String?
        var seen: [String: Int] = [:]
        var headerLine: Int?
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") {
                let name = line.trimmingCharacters(in: CharacterSet(charactersIn: "[] ")).split(separator: "#").first
                    .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "[] ")) } ?? ""
                seen[name, default: -1] += 1
                current = name
                if name == header && seen[name] == occurrence { headerLine = index + 1 }
                continue
            }
            guard current == header, header == nil || seen[header!] == occurrence, let key else { continue }
            let bare = line.hasPrefix("\"") ? String(line.dropFirst()) : line
            if bare.hasPrefix(key), let rest = bare.dropFirst(key.count).drop(while: { $0 == "\"" || $0 == " " }).first, rest == "=" {
                return index + 1
            }
        }
        return headerLine
    }
}

/// TOMLKit's tables are classes without Sendable; a file's tables are read only.
struct TOMLTableBox: @unchecked Sendable {
    let table: TOMLTable
    init(_ table: TOMLTable) { self.table = table }
}

/// One table of a TOMLFile, with typed reads whose errors point at the line.
public struct TOMLSection {
    public let file: TOMLFile
    /// nil for the top level; the name of `[name]` or `[[name]]` otherwise.
    public let header: String?
    public let occurrence: Int
    let table: TOMLTable

    public var keys: [String] { table.keys.sorted() }

    /// "[[workload]] #2" or "the top level", for messages.
    public var label: String {
        guard let header else { return "the top level" }
        return file.root.table[header]?.array != nil ? "[[\(header)]] #\(occurrence + 1)" : "[\(header)]"
    }

    public func error(_ key: String?, _ message: String, hint: String = "") -> InputFileError {
        InputFileError(file: file.path, line: file.line(of: key, header: header, occurrence: occurrence), key: key,
                       message: message, hint: hint)
    }

    /// Fails on any key not in `allowed`: a typo must not silently mean "default".
    public func onlyKeys(_ allowed: [String]) throws {
        for key in keys where !allowed.contains(key) {
            throw error(key, "unknown key in \(label)", hint: "known keys: \(allowed.joined(separator: ", "))")
        }
    }

    public func has(_ key: String) -> Bool { table.contains(key: key) }

    public func string(_ key: String) throws -> String? {
        guard let value = table[key] else { return nil }
        guard let text = value.string else { throw error(key, "must be a string, not \(value.type)") }
        return text
    }

    public func int(_ key: String) throws -> Int? {
        guard let value = table[key] else { return nil }
        guard let number = value.int else { throw error(key, "must be an integer, not \(value.type)") }
        return number
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let value = table[key] else { return nil }
        guard let flag = value.bool else { throw error(key, "must be true or false, not \(value.type)") }
        return flag
    }

    /// A string or an array of strings.
    public func strings(_ key: String) throws -> [String]? {
        guard let value = table[key] else { return nil }
        if let text = value.string { return [text] }
        guard let array = value.array else { throw error(key, "must be a string or an array of strings, not \(value.type)") }
        return try array.map { element in
            guard let text = element.string else { throw error(key, "must be a string or an array of strings; found \(element.type) in it") }
            return text
        }
    }

    /// An integer or an array of integers.
    public func ints(_ key: String) throws -> [Int]? {
        guard let value = table[key] else { return nil }
        if let number = value.int { return [number] }
        guard let array = value.array else { throw error(key, "must be an integer or an array of integers, not \(value.type)") }
        return try array.map { element in
            guard let number = element.int else { throw error(key, "must be an integer or an array of integers; found \(element.type) in it") }
            return number
        }
    }

    /// A size: a string such as "1G" or "512M" (binary units), or a number of bytes.
    public func byteSize(_ key: String) throws -> UInt64? {
        guard let value = table[key] else { return nil }
        if let number = value.int, number >= 0 { return UInt64(number) }
        guard let text = value.string else { throw error(key, "must be a size such as \"1G\" or a number of bytes, not \(value.type)") }
        do { return try ByteSize.parse(text) } catch let error as ByteSizeError { throw self.error(key, error.description) }
    }

    /// A size or an array of sizes, each as `byteSize` reads one.
    public func byteSizes(_ key: String) throws -> [UInt64]? {
        guard let value = table[key] else { return nil }
        let elements = value.array.map { Array($0) } ?? [value]
        return try elements.map { element in
            if let number = element.int, number >= 0 { return UInt64(number) }
            guard let text = element.string else { throw error(key, "must be a size (\"4K\", \"2M\" or bytes) or an array of sizes; found \(element.type)") }
            do { return try ByteSize.parse(text) } catch let error as ByteSizeError { throw self.error(key, error.description) }
        }
    }

    /// A string that must be one of an enum's raw values.
    public func choice<Value: RawRepresentable & CaseIterable>(_ key: String, _ type: Value.Type) throws -> Value? where Value.RawValue == String {
        guard let text = try string(key) else { return nil }
        return try parse(text, key: key, as: type)
    }

    /// Each of a string-or-array's entries as one of an enum's raw values.
    public func choices<Value: RawRepresentable & CaseIterable>(_ key: String, _ type: Value.Type) throws -> [Value]? where Value.RawValue == String {
        try strings(key)?.map { try parse($0, key: key, as: type) }
    }

    private func parse<Value: RawRepresentable & CaseIterable>(_ text: String, key: String, as type: Value.Type) throws -> Value where Value.RawValue == String {
        guard let value = Value(rawValue: text) else {
            throw error(key, "'\(text)' is not one of \(Value.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }
}

/// A user's input file is wrong: where, which key, what, and what to do about it.
public struct InputFileError: RigError, Equatable {
    /// What the user can fix: exit 2.
    public var exitStatus: ExitStatus { .badInput }

    public var file: String
    public var line: Int?
    public var key: String?
    public var message: String
    public var hint: String

    public init(file: String, line: Int?, key: String?, message: String, hint: String = "") {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
        self.hint = hint
    }

    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): " + (key.map { "\($0): " } ?? "") + message + (hint.isEmpty ? "" : " (\(hint))")
    }
}
