import Foundation
import DaxRigSupport

/// What goes into the guest image, read from a recipe file (images/guest.recipe; the
/// format is documented in images/README.md). Parsing checks only the text; host
/// tools are looked up later, by `ImageContents`.
public struct ImageRecipe: Sendable, Equatable {
    public enum Directive: Sendable, Equatable {
        /// `agent <target>`: the stripped daxrig-agent.
        case agent(target: String)
        /// `tool <program> <target>`: a host program (a name looked up on PATH, or a
        /// path) and its shared-library closure.
        case tool(program: String, target: String)
        /// `applets <busybox-target> <name>...`: symlinks next to a busybox tool.
        case applets(busybox: String, names: [String])
        /// `dir <target> [mode]`
        case directory(target: String, permissions: UInt32)
        /// `file <host-path> <target> [mode]`: a host file as is; mode defaults to the host file's.
        case file(source: String, target: String, permissions: UInt32?)
        /// `symlink <target> <points-to>`
        case symlink(target: String, pointsTo: String)
        /// `chardev <target> <major> <minor> [mode]`
        case characterDevice(target: String, major: UInt32, minor: UInt32, permissions: UInt32)
    }

    public struct Line: Sendable, Equatable {
        public var directive: Directive
        public var number: Int
    }

    /// Where the recipe came from, for messages ("images/guest.recipe").
    public var source: String
    /// The recipe's text, part of the image's cache key.
    public var text: String
    public var lines: [Line]

    public var agentTarget: String {
        lines.lazy.compactMap { if case let .agent(target) = $0.directive { return target } else { return nil } }.first ?? "/init"
    }

    public static func load(path: String) throws -> ImageRecipe {
        guard Files.exists(path) else { throw ImageError.recipeNotFound(searched: [path]) }
        return try parse(try Files.read(path), source: path)
    }

    public static func parse(_ text: String, source: String) throws -> ImageRecipe {
        var lines: [Line] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var words: [String] = []
            for word in rawLine.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }) {
                if word.hasPrefix("#") { break }
                words.append(String(word))
            }
            guard let keyword = words.first else { continue }
            let arguments = Array(words.dropFirst())
            func fail(_ message: String) -> ImageError {
                .recipeSyntax(file: source, line: number, message: message)
            }
            func expect(_ range: ClosedRange<Int>, _ usage: String) throws {
                guard range.contains(arguments.count) else { throw fail("expected `\(keyword) \(usage)`") }
            }
            func target(_ word: String) throws -> String {
                guard word.hasPrefix("/"), (try? CpioArchive.normalize(word)) != nil else {
                    throw fail("'\(word)' must be an absolute guest path without '.' or '..'")
                }
                return word
            }
            func mode(_ word: String) throws -> UInt32 {
                guard let value = UInt32(word, radix: 8), value <= 0o7777 else {
                    throw fail("'\(word)' is not an octal mode like 0755")
                }
                return value
            }
            func number32(_ word: String, _ what: String) throws -> UInt32 {
                guard let value = UInt32(word) else { throw fail("'\(word)' is not a \(what) number") }
                return value
            }

            let directive: Directive
            switch keyword {
            case "agent":
                try expect(1...1, "<target>")
                directive = .agent(target: try target(arguments[0]))
            case "tool":
                try expect(2...2, "<program> <target>")
                directive = .tool(program: arguments[0], target: try target(arguments[1]))
            case "applets":
                guard arguments.count >= 2 else { throw fail("expected `applets <busybox-target> <name>...`") }
                if let bad = arguments.dropFirst().first(where: { $0.contains("/") }) {
                    throw fail("applet name '\(bad)' must be a plain name; the links go next to the busybox target")
                }
                directive = .applets(busybox: try target(arguments[0]), names: Array(arguments.dropFirst()))
            case "dir":
                try expect(1...2, "<target> [mode]")
                directive = .directory(target: try target(arguments[0]),
                                       permissions: try arguments.count > 1 ? mode(arguments[1]) : 0o755)
            case "file":
                try expect(2...3, "<host-path> <target> [mode]")
                guard arguments[0].hasPrefix("/") else { throw fail("host path '\(arguments[0])' must be absolute") }
                directive = .file(source: arguments[0], target: try target(arguments[1]),
                                  permissions: try arguments.count > 2 ? mode(arguments[2]) : nil)
            case "symlink":
                try expect(2...2, "<target> <points-to>")
                directive = .symlink(target: try target(arguments[0]), pointsTo: arguments[1])
            case "chardev":
                try expect(3...4, "<target> <major> <minor> [mode]")
                directive = .characterDevice(target: try target(arguments[0]),
                                             major: try number32(arguments[1], "major"),
                                             minor: try number32(arguments[2], "minor"),
                                             permissions: try arguments.count > 3 ? mode(arguments[3]) : 0o600)
            default:
                throw fail("unknown directive '\(keyword)' (known: agent, tool, applets, dir, file, symlink, chardev; see images/README.md)")
            }
            lines.append(Line(directive: directive, number: number))
        }
        let agents = lines.filter { if case .agent = $0.directive { return true } else { return false } }
        guard agents.count == 1 else {
            throw ImageError.recipeSyntax(file: source, line: agents.dropFirst().first?.number ?? 0,
                                          message: agents.isEmpty ? "no `agent <target>` line: the image needs an init (usually `agent /init`)"
                                                                  : "more than one `agent` line")
        }
        return ImageRecipe(source: source, text: text, lines: lines)
    }

    /// The recipe daxrig uses when none is given: images/guest.recipe, compiled in, so
    /// a daxrig binary builds its guest image wherever it runs.
    public static var builtIn: ImageRecipe {
        // The embedded copy cannot fail to parse without the unit tests failing first.
        try! parse(String(decoding: PackageResources.guest_recipe, as: UTF8.self), source: "images/guest.recipe (built in)")
    }
}
