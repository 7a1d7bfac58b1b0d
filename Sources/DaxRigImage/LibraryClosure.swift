import Foundation
import DaxRigSupport

/// A shared library a host binary loads, as ldd names it: `path` is where the guest
/// must find it (the dynamic loader looks there, and the ELF interpreter path is
/// fixed in the binary), which on a merged-/usr host is a symlinked path whose real
/// file lives under /usr.
public struct SharedLibrary: Sendable, Equatable, Hashable {
    public var name: String
    public var path: String

    public init(name: String, path: String) {
        self.name = name
        self.path = path
    }
}

/// What `ldd` printed, understood.
public enum LddOutput {
    /// Parses ldd's output for `binary`. A static binary ("not a dynamic executable",
    /// "statically linked") has no libraries. The vDSO (linux-vdso.so.1) is the
    /// kernel's and is skipped. A "not found" library is an error naming it.
    public static func parse(_ text: String, binary: String) throws -> [SharedLibrary] {
        var libraries: [SharedLibrary] = []
        var missing: [String] = []
        for rawLine in text.split(separator: "\n") {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line == "not a dynamic executable" || line == "statically linked" { return [] }
            if let arrow = line.range(of: " => ") {
                let name = String(line[..<arrow.lowerBound])
                let rest = line[arrow.upperBound...].trimmingCharacters(in: .whitespaces)
                if rest == "not found" {
                    missing.append(name)
                    continue
                }
                // "libfoo.so.1 => /lib/x/libfoo.so.1 (0x...)"; old glibc printed the vDSO
                // as "linux-vdso.so.1 =>  (0x...)" with no path.
                let path = String(rest.split(separator: " ").first ?? "")
                if path.hasPrefix("/") { libraries.append(SharedLibrary(name: name, path: path)) }
            } else if line.hasPrefix("/") {
                // The dynamic loader: "/lib64/ld-linux-x86-64.so.2 (0x...)".
                let path = String(line.split(separator: " ").first ?? "")
                libraries.append(SharedLibrary(name: (path as NSString).lastPathComponent, path: path))
            } else if line.hasPrefix("linux-vdso") || line.hasPrefix("linux-gate") {
                continue
            } else if line.hasPrefix("ldd: ") || line.contains("No such file") {
                throw ImageError.lddFailed(binary: binary, output: text.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            // Anything else (a warning about a missing version tag...) is not a library.
        }
        if !missing.isEmpty { throw ImageError.missingLibraries(binary: binary, libraries: missing) }
        return libraries
    }
}

/// The shared libraries a host binary needs, found by running `ldd` on it.
public enum LibraryClosure {
    /// ldd already follows DT_NEEDED recursively, so its list is the whole closure.
    public static func resolve(_ binary: String) throws -> [SharedLibrary] {
        let output = try Command("ldd", [binary]).runAllowingFailure()
        let text = output.standardOutput + "\n" + output.standardError
        let libraries = try LddOutput.parse(text, binary: binary)
        // ldd exits 1 for a static binary; any other failure printed something else.
        if output.status != 0 && !libraries.isEmpty {
            throw ImageError.lddFailed(binary: binary, output: text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        if output.status != 0 && !text.contains("not a dynamic executable") && !text.contains("statically linked") {
            throw ImageError.lddFailed(binary: binary, output: text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return libraries
    }
}
