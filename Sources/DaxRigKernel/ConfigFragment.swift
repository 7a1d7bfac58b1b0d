import Foundation
import DaxRigSupport

/// One Kconfig option as a user asked for it: `CONFIG_X=value`, with "n" for
/// `# CONFIG_X is not set`.
public struct ConfigOption: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    /// The symbol with its CONFIG_ prefix.
    public var name: String
    public var value: String
    /// Where it was asked for: "file:line" or "--set".
    public var origin: String

    public init(name: String, value: String, origin: String) {
        self.name = name.hasPrefix("CONFIG_") ? name : "CONFIG_" + name
        self.value = value
        self.origin = origin
    }

    /// The symbol without CONFIG_, as Kconfig files spell it.
    public var symbol: String { String(name.dropFirst("CONFIG_".count)) }

    public var description: String { value == "n" ? "# \(name) is not set" : "\(name)=\(value)" }

    /// Parses `CONFIG_X=V` or `X=V`, as given to `--set`.
    public static func parseAssignment(_ text: String, origin: String = "--set") throws -> ConfigOption {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
            throw ConfigError.malformed(origin: origin, line: text, hint: "write CONFIG_NAME=y|m|n|value")
        }
        let name = String(text[..<eq]).trimmingCharacters(in: .whitespaces)
        let value = String(text[text.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
        guard isSymbol(name.hasPrefix("CONFIG_") ? String(name.dropFirst(7)) : name), !value.isEmpty else {
            throw ConfigError.malformed(origin: origin, line: text, hint: "write CONFIG_NAME=y|m|n|value")
        }
        return ConfigOption(name: name, value: value, origin: origin)
    }

    public static func isSymbol(_ text: some StringProtocol) -> Bool {
        !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "_" || $0.isLowercase) }
    }
}

/// A config fragment file: the options it sets, in order.
public struct ConfigFragment: Sendable, Equatable {
    public var name: String
    public var text: String
    public var options: [ConfigOption]

    /// The fragment daxrig uses when none is given (kernels/configs/pmem-dax.config,
    /// compiled in).
    public static var pmemDax: ConfigFragment {
        // The embedded copy cannot fail to parse without the unit tests failing first.
        try! ConfigFragment(name: "pmem-dax.config", text: String(decoding: PackageResources.pmem_dax_config, as: UTF8.self))
    }

    public static func load(_ path: String) throws -> ConfigFragment {
        guard Files.exists(path) else { throw ConfigError.missingFragment(path: path) }
        return try ConfigFragment(name: path, text: Files.read(path))
    }

    /// Accepts what a .config or merge_config.sh fragment holds: `CONFIG_X=V`,
    /// `# CONFIG_X is not set`, comments and blank lines. Anything else is an error
    /// naming the line, because a silently ignored line is an option silently unset.
    public init(name: String, text: String) throws {
        self.name = name
        self.text = text
        var options: [ConfigOption] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            let origin = "\(name):\(index + 1)"
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                if line.hasPrefix("# CONFIG_"), line.hasSuffix(" is not set") {
                    let symbol = line.dropFirst(2).dropLast(" is not set".count)
                    options.append(ConfigOption(name: String(symbol), value: "n", origin: origin))
                }
                continue
            }
            guard line.hasPrefix("CONFIG_") else {
                throw ConfigError.malformed(origin: origin, line: line, hint: "fragments hold CONFIG_NAME=value lines, '# CONFIG_NAME is not set' and comments")
            }
            options.append(try ConfigOption.parseAssignment(line, origin: origin))
        }
        self.options = options
    }
}

/// How the starting .config is made before fragments go on top.
public enum ConfigBase: Sendable, Equatable, Codable, CustomStringConvertible {
    case tinyconfig
    case defconfig
    /// A complete .config given by the user; `hash` identifies its contents.
    case file(path: String, hash: String)

    public static func parse(_ text: String) throws -> ConfigBase {
        switch text {
        case "tinyconfig": return .tinyconfig
        case "defconfig": return .defconfig
        default:
            guard Files.exists(text) else { throw ConfigError.missingFragment(path: text) }
            return .file(path: text, hash: try ContentHash.ofFile(text))
        }
    }

    public var description: String {
        switch self {
        case .tinyconfig: "tinyconfig"
        case .defconfig: "defconfig"
        case let .file(path, _): path
        }
    }

    /// What goes into the cache key: the contents of a given file, not its path.
    var identity: String {
        switch self {
        case .tinyconfig: "tinyconfig"
        case .defconfig: "defconfig"
        case let .file(_, hash): "file:\(hash)"
        }
    }
}

/// The requested options after merging fragments in order, then `--set` overrides:
/// a later assignment to the same symbol wins, as in merge_config.sh.
public struct RequestedConfig: Sendable, Equatable {
    public var base: ConfigBase
    public private(set) var options: [ConfigOption] = []

    public init(base: ConfigBase, fragments: [ConfigFragment], overrides: [ConfigOption]) {
        self.base = base
        var index: [String: Int] = [:]
        for option in fragments.flatMap(\.options) + overrides {
            if let at = index[option.name] {
                options[at] = option
            } else {
                index[option.name] = options.count
                options.append(option)
            }
        }
    }

    /// Canonical text for the cache key: base identity and the sorted requests.
    public var canonicalText: String {
        (["base=\(base.identity)"] + options.map { "\($0.name)=\($0.value)" }.sorted()).joined(separator: "\n")
    }

    /// Applies the requests to a .config's text: each requested symbol's old line is
    /// dropped and the request appended, ready for olddefconfig.
    public func apply(to dotConfig: String) -> String {
        let requested = Set(options.map(\.name))
        var lines = dotConfig.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
            guard let symbol = DotConfig.symbol(onLine: line) else { return true }
            return !requested.contains(symbol)
        }.map(String.init)
        if lines.last == "" { lines.removeLast() }
        lines.append("# daxrig requests")
        lines += options.map(\.description)
        return lines.joined(separator: "\n") + "\n"
    }
}

/// A .config as Kconfig wrote it.
public struct DotConfig: Sendable, Equatable {
    /// Symbol (with CONFIG_) -> value; options that are not set are absent.
    public var values: [String: String]

    public init(text: String) {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("CONFIG_") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        self.values = values
    }

    public func value(of name: String) -> String { values[name] ?? "n" }

    static func symbol(onLine line: Substring) -> String? {
        if line.hasPrefix("CONFIG_"), let eq = line.firstIndex(of: "=") { return String(line[..<eq]) }
        if line.hasPrefix("# CONFIG_"), line.hasSuffix(" is not set") {
            return String(line.dropFirst(2).dropLast(" is not set".count))
        }
        return nil
    }

    /// The requests whose value did not survive olddefconfig.
    public func unmet(_ requested: RequestedConfig) -> [(option: ConfigOption, actual: String)] {
        requested.options.compactMap { option in
            let actual = value(of: option.name)
            return actual == option.value ? nil : (option, actual)
        }
    }
}

/// A config input daxrig could not use.
public enum ConfigError: RigError, Equatable {
    /// What the user can fix: exit 2.
    public var exitStatus: ExitStatus { .badInput }

    /// A fragment or base .config path that does not exist.
    case missingFragment(path: String)
    /// A line that is not an option assignment.
    case malformed(origin: String, line: String, hint: String)
    /// Options Kconfig did not set as requested; each with its Kconfig dependencies.
    case unmet([UnmetOption])

    public var description: String {
        switch self {
        case let .missingFragment(path):
            return "config file not found: \(path)"
        case let .malformed(origin, line, hint):
            return "\(origin): cannot read '\(line)': \(hint)"
        case let .unmet(options):
            return "\(options.count) requested config option(s) did not end up as requested (Kconfig drops options whose dependencies are unmet):\n"
                + options.map { "  " + $0.description }.joined(separator: "\n")
                + "\nSet the missing dependencies too (in a fragment or with --set), or drop the request."
        }
    }
}

/// One requested option that Kconfig did not honour, with why.
public struct UnmetOption: Sendable, Equatable, CustomStringConvertible {
    public var option: ConfigOption
    public var actual: String
    /// From the option's Kconfig entry; nil when no Kconfig file defines the symbol.
    public var dependencies: KconfigEntry?

    public var description: String {
        var text = "\(option.name): requested \(option.value) (\(option.origin)), got \(actual == "n" ? "not set" : actual)"
        if let entry = dependencies {
            if entry.dependsOn.isEmpty {
                text += "; defined in \(entry.location), no 'depends on' (it may be selected only, or lack a prompt)"
            } else {
                text += "; \(entry.location) depends on: " + entry.dependsOn.joined(separator: " && ")
            }
            if !entry.symbolValues.isEmpty {
                text += " [" + entry.symbolValues.map { "\($0.0)=\($0.1)" }.joined(separator: ", ") + "]"
            }
        } else {
            text += "; no Kconfig file defines \(option.symbol) in this tree (misspelt, or removed in this kernel)"
        }
        return text
    }
}
