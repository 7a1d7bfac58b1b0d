import Foundation

/// Reads kbuild's short-form output ("  CC      mm/memory.o") to tell which phase a
/// build is in and how many files it compiled.
public enum MakeOutput {
    public enum Event: Equatable, Sendable {
        /// One translation unit compiled or assembled (CC, AS), or a host program built.
        case compiled(String)
        /// The build reached a later phase: "link" (vmlinux), "image" (bzImage).
        case phase(String, String)
        case other
    }

    public static func classify(_ line: String) -> Event {
        guard line.hasPrefix("  ") else { return .other }
        let words = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard words.count == 2 else { return .other }
        let verb = String(words[0])
        let target = words[1].trimmingCharacters(in: .whitespaces)
        switch verb {
        case "CC", "AS", "HOSTCC", "HOSTLD":
            return .compiled(target)
        case "LD" where target == "vmlinux", "LD" where target.hasPrefix(".tmp_vmlinux"):
            return .phase("link", target)
        case "BUILD" where target.hasSuffix("bzImage"):
            return .phase("image", target)
        default:
            return .other
        }
    }

    /// The first compiler or make errors of a failed build, with a few lines after each,
    /// so the user sees the cause without opening the log.
    public static func firstErrors(in log: String, maxLines: Int = 12) -> String {
        let lines = log.split(separator: "\n", omittingEmptySubsequences: false)
        var picked: [Substring] = []
        var i = 0
        while i < lines.count && picked.count < maxLines {
            let line = lines[i]
            if line.contains(": error:") || line.contains(": fatal error:") || line.contains("undefined reference") || (line.hasPrefix("make") && line.contains("***")) {
                picked.append(contentsOf: lines[i..<min(lines.count, i + 4)])
                i += 4
            } else {
                i += 1
            }
        }
        return picked.prefix(maxLines).joined(separator: "\n")
    }

    /// Why a failed make is the host's fault rather than the source's, or nil: what
    /// gcc, the assembler, ld and make print when the disk is full or the OOM killer
    /// took a process, and make's own death by a signal (137 for SIGKILL).
    public static func hostFailure(in log: String, status: Int32) -> String? {
        let markers = [
            ("No space left on device", "the disk is full"),
            ("Disk quota exceeded", "the disk quota is used up"),
            ("Killed signal terminated program", "a compiler was killed (the OOM killer?)"),
            ("virtual memory exhausted", "the compiler ran out of memory"),
            ("Cannot allocate memory", "the host ran out of memory"),
            ("out of memory allocating", "the compiler ran out of memory"),
        ]
        for line in log.split(separator: "\n") {
            if let (_, reason) = markers.first(where: { line.contains($0.0) }) {
                return reason + ": " + line.trimmingCharacters(in: .whitespaces).prefix(300)
            }
        }
        if status > 128 {
            let signal = status - 128
            return "make was killed by signal \(signal)" + (signal == SIGKILL ? " (the OOM killer?)" : "")
        }
        return nil
    }
}
