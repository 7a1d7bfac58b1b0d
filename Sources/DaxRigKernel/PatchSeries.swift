import Foundation
import DaxRigSupport

/// A quilt-style patch series: a directory with a `series` file naming the patches
/// in the order they apply. Format (kernels/README.md): one patch file name per line,
/// relative to the directory; `#` starts a comment; blank lines are ignored; an
/// optional `-pN` after the name sets the strip level (default 1).
public struct PatchSeries: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var path: String
        public var stripLevel: Int
        public var text: String
        /// Identity of the contents, for the cache key.
        public var hash: String
    }

    public var directory: String
    public var patches: [Entry]

    public static func load(directory given: String) throws -> PatchSeries {
        // Patches are applied by git in the work tree, not here: a relative path would
        // name a file there.
        let directory = URL(fileURLWithPath: given).standardized.path
        let seriesPath = directory + "/series"
        guard Files.isDirectory(directory) else { throw PatchError.noSeries(directory: directory, reason: "no such directory") }
        guard Files.exists(seriesPath) else { throw PatchError.noSeries(directory: directory, reason: "it has no 'series' file") }
        let entries = try parse(seriesText: Files.read(seriesPath), seriesPath: seriesPath)
        var patches: [Entry] = []
        for (name, strip, line) in entries {
            let path = directory + "/" + name
            guard Files.exists(path) else { throw PatchError.missingPatch(series: seriesPath, line: line, name: name) }
            let text = try Files.read(path)
            patches.append(Entry(name: name, path: path, stripLevel: strip, text: text, hash: ContentHash.of(text)))
        }
        return PatchSeries(directory: directory, patches: patches)
    }

    /// The series file's entries: (name, strip level, line number).
    public static func parse(seriesText: String, seriesPath: String) throws -> [(name: String, strip: Int, line: Int)] {
        var result: [(String, Int, Int)] = []
        for (index, raw) in seriesText.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard let name = words.first else { continue }
            // A name is a file of the series' directory: it is read there, and copied
            // beside each kernel under the same name.
            if name.hasPrefix("/") || name.split(separator: "/").contains("..") {
                throw PatchError.badSeriesLine(series: seriesPath, line: index + 1, text: String(raw), hint: "name a patch file inside the series' directory")
            }
            var strip = 1
            for option in words.dropFirst() {
                guard option.hasPrefix("-p"), let level = Int(option.dropFirst(2)), level >= 0 else {
                    throw PatchError.badSeriesLine(series: seriesPath, line: index + 1, text: String(raw), hint: "only '-pN' may follow a patch name")
                }
                strip = level
            }
            result.append((name, strip, index + 1))
        }
        return result
    }

    /// Canonical text for the cache key: the patches' names and contents, in order.
    public var canonicalText: String {
        patches.map { "\($0.name) -p\($0.stripLevel) \($0.hash)" }.joined(separator: "\n")
    }
}

/// A unified diff, read far enough to name each hunk when one does not apply.
public struct UnifiedDiff: Sendable, Equatable {
    public struct Hunk: Sendable, Equatable {
        /// 1-based position among the hunks of its file.
        public var number: Int
        public var header: String
        public var oldStart: Int
        /// The hunk's lines, header included, for the error message.
        public var lines: [String]
    }

    public struct FileDiff: Sendable, Equatable {
        public var oldPath: String
        public var newPath: String
        public var hunks: [Hunk]
    }

    public var files: [FileDiff]

    /// Accepts git format-patch mails (headers and commit message before the first
    /// `diff`/`---`) and plain `diff -u` output alike.
    public init(text: String, stripLevel: Int = 1) {
        var files: [FileDiff] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var i = 0
        while i < lines.count {
            let line = lines[i]
            if line.hasPrefix("--- "), i + 1 < lines.count, lines[i + 1].hasPrefix("+++ ") {
                let old = Self.strip(line.dropFirst(4), level: stripLevel)
                let new = Self.strip(lines[i + 1].dropFirst(4), level: stripLevel)
                files.append(FileDiff(oldPath: old, newPath: new, hunks: []))
                i += 2
                continue
            }
            if line.hasPrefix("@@ "), !files.isEmpty {
                let oldStart = Self.oldStart(of: line)
                var body = [line]
                var j = i + 1
                while j < lines.count, let first = lines[j].first, [" ", "+", "-", "\\"].contains(first),
                      !(lines[j].hasPrefix("--- ") && j + 1 < lines.count && lines[j + 1].hasPrefix("+++ ")) {
                    body.append(lines[j])
                    j += 1
                }
                let number = files[files.count - 1].hunks.count + 1
                files[files.count - 1].hunks.append(Hunk(number: number, header: line, oldStart: oldStart, lines: body))
                i = j
                continue
            }
            i += 1
        }
        self.files = files
    }

    /// The hunk of `path` that starts at `oldLine`, as git apply reports a failure.
    public func hunk(path: String, oldLine: Int) -> (FileDiff, Hunk)? {
        for file in files where file.newPath == path || file.oldPath == path {
            if let hunk = file.hunks.first(where: { $0.oldStart == oldLine }) { return (file, hunk) }
        }
        return nil
    }

    private static func strip(_ raw: Substring, level: Int) -> String {
        let path = raw.split(separator: "\t").first.map(String.init) ?? String(raw)
        if path == "/dev/null" { return path }
        return path.split(separator: "/", omittingEmptySubsequences: false).dropFirst(level).joined(separator: "/")
    }

    private static func oldStart(of header: String) -> Int {
        // "@@ -123,7 +123,9 @@": the number after '-'.
        guard let minus = header.firstIndex(of: "-") else { return 0 }
        let digits = header[header.index(after: minus)...].prefix { $0.isNumber }
        return Int(digits) ?? 0
    }
}

/// A patch series that could not be read or applied.
public enum PatchError: RigError, Equatable {
    /// What the user can fix: exit 2.
    public var exitStatus: ExitStatus { .badInput }

    case noSeries(directory: String, reason: String)
    case badSeriesLine(series: String, line: Int, text: String, hint: String)
    case missingPatch(series: String, line: Int, name: String)
    /// `patch` did not apply to `file`; `hunk` is the failing hunk when it could be told.
    case doesNotApply(patch: String, file: String, hunk: String?, detail: String)

    public var description: String {
        switch self {
        case let .noSeries(directory, reason):
            return "patch series \(directory): \(reason). A series is a directory with a 'series' file listing its patches in order (see kernels/README.md)."
        case let .badSeriesLine(series, line, text, hint):
            return "\(series):\(line): cannot read '\(text)': \(hint)"
        case let .missingPatch(series, line, name):
            return "\(series):\(line) names \(name), which does not exist next to the series file"
        case let .doesNotApply(patch, file, hunk, detail):
            var text = "patch \(patch) does not apply to \(file)"
            if let hunk { text += ", at hunk:\n\(hunk)" }
            text += "\n\(detail)\nThe tree was reset to its pristine state; rebase the patch onto this kernel."
            return text
        }
    }
}
