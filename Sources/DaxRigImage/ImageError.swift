import Foundation
import DaxRigSupport

/// Why a guest image could not be built.
public enum ImageError: RigError, Equatable {
    /// The rig or the host failed: exit 3.
    public var exitStatus: ExitStatus { .infrastructure }

    /// The recipe text is wrong at `file:line`.
    case recipeSyntax(file: String, line: Int, message: String)
    /// No recipe file where one was looked for.
    case recipeNotFound(searched: [String])
    /// A `tool` the recipe names is not installed on the host; `package` is the Debian
    /// package that provides it, when daxrig knows it.
    case missingTool(tool: String, package: String?, recipe: String, line: Int)
    /// A `file` the recipe names does not exist on the host.
    case missingFile(path: String, recipe: String, line: Int)
    /// `applets` names something the busybox binary does not have.
    case unknownApplets(names: [String], busybox: String, recipe: String, line: Int)
    /// `applets` points at a target that no `tool` line put a busybox at.
    case appletsWithoutBusybox(target: String, recipe: String, line: Int)
    /// ldd found libraries the binary needs that are not installed.
    case missingLibraries(binary: String, libraries: [String])
    /// ldd could not read the binary at all.
    case lddFailed(binary: String, output: String)
    /// The daxrig-agent binary is not where it was looked for.
    case agentNotFound(searched: [String])
    /// Two things of the recipe land on one guest path.
    case conflict(message: String, recipe: String, line: Int)

    public var description: String {
        switch self {
        case let .recipeSyntax(file, line, message):
            return "\(file):\(line): \(message)"
        case let .recipeNotFound(searched):
            let shown = searched.prefix(4).joined(separator: ", ") + (searched.count > 4 ? ", ..." : "")
            return "no image recipe found (looked for \(shown)): run daxrig from the daxrig checkout, "
                + "or set DAXRIG_RECIPE to images/guest.recipe"
        case let .missingTool(tool, package?, recipe, line):
            return "\(recipe):\(line): \(tool) is not installed on this host: install the Debian package "
                + "'\(package)' (apt-get install \(package)), or run scripts/setup.sh"
        case let .missingTool(tool, nil, recipe, line):
            return "\(recipe):\(line): \(tool) is not installed on this host (not on PATH or in /sbin, /usr/sbin): "
                + "install it, or give its absolute path in the recipe"
        case let .missingFile(path, recipe, line):
            return "\(recipe):\(line): \(path) does not exist on this host"
        case let .unknownApplets(names, busybox, recipe, line):
            return "\(recipe):\(line): \(busybox) has no applet \(names.joined(separator: ", ")) "
                + "(`\(busybox) --list` shows what it has)"
        case let .appletsWithoutBusybox(target, recipe, line):
            return "\(recipe):\(line): no `tool busybox \(target)` line puts a busybox at \(target)"
        case let .missingLibraries(binary, libraries):
            return "\(binary) needs \(libraries.joined(separator: ", ")), not installed on this host "
                + "(`ldd \(binary)`; reinstall the package that owns the binary: dpkg -S \(binary))"
        case let .lddFailed(binary, output):
            return "ldd \(binary) failed: \(output)"
        case let .agentNotFound(searched):
            return "the guest agent daxrig-agent is not built (looked at \(searched.joined(separator: ", "))): "
                + "run `swift build --product daxrig-agent` with the same configuration and --scratch-path as daxrig, "
                + "or set DAXRIG_AGENT to the binary's path"
        case let .conflict(message, recipe, line):
            return "\(recipe):\(line): \(message)"
        }
    }
}
