import Foundation
import DaxRigSupport

/// What a Kconfig file says about one symbol: enough to tell a user why their
/// option was dropped.
public struct KconfigEntry: Sendable, Equatable {
    /// "path/Kconfig:line" of the `config` line.
    public var location: String
    /// Every condition the option needs: its own `depends on` lines and those of the
    /// `if` blocks and menus it sits in.
    public var dependsOn: [String]
    /// The current value of each symbol named in `dependsOn`, from the final .config.
    public var symbolValues: [(String, String)]

    public static func == (a: KconfigEntry, b: KconfigEntry) -> Bool {
        a.location == b.location && a.dependsOn == b.dependsOn
            && a.symbolValues.map { "\($0.0)=\($0.1)" } == b.symbolValues.map { "\($0.0)=\($0.1)" }
    }

    /// Reads the entry for `symbol` out of one Kconfig file's text, tracking the `if`
    /// and `menu` blocks around it. Returns nil when the file does not define it.
    public static func parse(symbol: String, fileText: String, path: String) -> KconfigEntry? {
        var lines = fileText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // Join backslash continuations, keeping line numbers of the first line.
        var joined: [(number: Int, text: String)] = []
        var index = 0
        while index < lines.count {
            var text = lines[index]
            let number = index + 1
            while text.hasSuffix("\\"), index + 1 < lines.count {
                text.removeLast()
                index += 1
                text += " " + lines[index].trimmingCharacters(in: .whitespaces)
            }
            joined.append((number, text))
            index += 1
        }
        lines = []

        /// The stack of enclosing conditions; a menu frame collects its own `depends on`.
        var frames: [(kind: String, conditions: [String])] = []
        var inMenuHeader = false
        /// Help text is free prose ("if the kernel..."); it runs until a line indented
        /// less than its first line.
        var helpIndent: Int?
        var afterHelp = false
        var i = 0
        while i < joined.count {
            let raw = joined[i].text
            let line = raw.trimmingCharacters(in: .whitespaces)
            if afterHelp || helpIndent != nil {
                if line.isEmpty { i += 1; continue }
                let indent = Self.indentation(raw)
                if afterHelp { helpIndent = indent; afterHelp = false; i += 1; continue }
                if let help = helpIndent, indent >= help { i += 1; continue }
                helpIndent = nil
            }
            if line == "help" || line == "---help---" {
                afterHelp = true
                i += 1
                continue
            }
            let words = line.split(separator: " ", maxSplits: 1).map(String.init)
            let keyword = words.first ?? ""
            switch keyword {
            case "if":
                frames.append(("if", [words.count > 1 ? words[1] : ""]))
                inMenuHeader = false
            case "endif", "endmenu":
                if !frames.isEmpty { frames.removeLast() }
                inMenuHeader = false
            case "menu":
                frames.append(("menu", []))
                inMenuHeader = true
            case "depends" where inMenuHeader:
                if let expr = dependsExpression(line) { frames[frames.count - 1].conditions.append(expr) }
            case "config", "menuconfig":
                inMenuHeader = false
                if words.count > 1, words[1].trimmingCharacters(in: .whitespaces) == symbol {
                    var own: [String] = []
                    var j = i + 1
                    while j < joined.count {
                        let body = joined[j].text.trimmingCharacters(in: .whitespaces)
                        let first = body.split(separator: " ").first.map(String.init) ?? ""
                        if first == "help" || first == "---help---" { break }
                        if ["config", "menuconfig", "choice", "endchoice", "menu", "endmenu", "if", "endif", "source", "comment"].contains(first) { break }
                        if let expr = dependsExpression(body) { own.append(expr) }
                        j += 1
                    }
                    let enclosing = frames.flatMap(\.conditions).filter { !$0.isEmpty }
                    return KconfigEntry(location: "\(path):\(joined[i].number)", dependsOn: enclosing + own, symbolValues: [])
                }
            default:
                if !keyword.isEmpty && keyword != "depends" && keyword != "visible" && !keyword.hasPrefix("#") {
                    inMenuHeader = false
                }
            }
            i += 1
        }
        return nil
    }

    /// Columns of leading white space, tabs to the next multiple of 8 as Kconfig counts.
    static func indentation(_ line: String) -> Int {
        var column = 0
        for character in line {
            if character == " " { column += 1 } else if character == "\t" { column = (column / 8 + 1) * 8 } else { break }
        }
        return column
    }

    private static func dependsExpression(_ line: String) -> String? {
        guard line.hasPrefix("depends on") else { return nil }
        return line.dropFirst("depends on".count).trimmingCharacters(in: .whitespaces)
    }

    /// Symbols named in the dependency expressions: upper-case words, since Kconfig
    /// spells symbols that way and tristate constants (y, m, n) in lower case.
    public var symbols: [String] {
        var seen: [String] = []
        for expression in dependsOn {
            let words = expression.split { !($0.isLetter || $0.isNumber || $0 == "_") }
            for word in words where word.contains(where: \.isUppercase) && !word.contains(where: \.isLowercase) {
                if !seen.contains(String(word)) { seen.append(String(word)) }
            }
        }
        return seen
    }
}

/// Finds Kconfig entries in a kernel tree.
public enum Kconfig {
    /// Looks `symbol` up in every Kconfig file of `tree` (grep finds the candidate
    /// files; the parser reads the entry) and fills in the dependencies' values.
    public static func entry(for symbol: String, in tree: String, config: DotConfig) -> KconfigEntry? {
        let grep = try? Command("grep", ["-rlE", "--include=Kconfig*", "^[[:space:]]*(menu)?config[[:space:]]+\(symbol)[[:space:]]*$", "."], directory: tree)
            .runAllowingFailure()
        let files = (grep?.standardOutput ?? "").split(separator: "\n").map { String($0.dropFirst(2)) }.sorted()
        for file in files {
            guard let text = try? Files.read(tree + "/" + file),
                  var entry = KconfigEntry.parse(symbol: symbol, fileText: text, path: file) else { continue }
            entry.symbolValues = entry.symbols.map { ($0, config.value(of: "CONFIG_" + $0)) }
            return entry
        }
        return nil
    }
}
