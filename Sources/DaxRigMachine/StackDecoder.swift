import DaxRigSupport
import Foundation

/// A kernel stack as file:line: every `function+0xOFF/0xSIZE` of a crash excerpt gets
/// the source line vmlinux's DWARF names for it, as the tree's decode_stacktrace.sh
/// does. Addresses are taken from the symbol and offset, never from the printed
/// address, so a KASLR-shifted guest decodes the same.
public struct StackDecoder: Sendable {
    /// vmlinux with debug info.
    public let vmlinux: String
    /// Function start addresses, by name (the first definition of a name wins).
    let symbols: [String: UInt64]

    /// Reads vmlinux's symbol table once; nil when vmlinux has no DWARF (addr2line
    /// would only say "??:0") or cannot be read.
    public init?(vmlinux: String) {
        guard let sections = try? Command("readelf", ["-S", "-W", vmlinux]).runAllowingFailure(), sections.status == 0,
              sections.standardOutput.contains(".debug_info"),
              let table = try? Command("nm", [vmlinux]).runAllowingFailure(), table.status == 0 else { return nil }
        var symbols: [String: UInt64] = [:]
        for line in table.standardOutput.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, "tTwW".contains(fields[1]), let address = UInt64(fields[0], radix: 16) else { continue }
            if symbols[String(fields[2])] == nil { symbols[String(fields[2])] = address }
        }
        self.vmlinux = vmlinux
        self.symbols = symbols
    }

    /// The frames of `text` ("dax_iomap_pmd_fault+0x3c/0x5f0"), in order.
    static func frames(in text: String) -> [(line: Int, function: String, offset: UInt64)] {
        var frames: [(Int, String, UInt64)] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            for word in line.split(whereSeparator: { " \t():".contains($0) }) {
                let parts = word.split(separator: "+")
                guard parts.count == 2, let slash = parts[1].firstIndex(of: "/"),
                      parts[1].hasPrefix("0x"), let offset = UInt64(parts[1][parts[1].index(parts[1].startIndex, offsetBy: 2)..<slash], radix: 16),
                      parts[0].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) else { continue }
                frames.append((index, String(parts[0]), offset))
            }
        }
        return frames
    }

    /// `text` with " [file:line]" after each frame addr2line could place, innermost
    /// inline first; unchanged when nothing could be.
    public func decode(_ text: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // A call trace's frames are return addresses: the call is the byte before (a
        // call that never returns would otherwise land in the next function). The
        // trapping instruction (RIP) is itself.
        let frames = Self.frames(in: text).compactMap { frame in
            symbols[frame.function].map { (frame.line, $0 + frame.offset - (lines[frame.line].contains("RIP:") || frame.offset == 0 ? 0 : 1)) }
        }
        guard !frames.isEmpty else { return text }
        let addresses = frames.map { "0x" + String($0.1, radix: 16) }
        guard let output = try? Command("addr2line", ["-e", vmlinux] + addresses).runAllowingFailure(), output.status == 0 else { return text }
        let places = output.standardOutput.split(separator: "\n").map { String($0.split(separator: " ").first ?? "") }
        guard places.count == frames.count else { return text }
        var decodedLines = lines.map(String.init)
        var done = Set<Int>()
        for ((line, _), place) in zip(frames, places) where !place.hasPrefix("??") && done.insert(line).inserted {
            decodedLines[line] += " [\(Self.relative(place))]"
        }
        return decodedLines.joined(separator: "\n")
    }

    /// "/root/.cache/daxrig/trees/tar-.../src/fs/dax.c:1234" → "fs/dax.c:1234": the
    /// tree's own path says nothing to a reader and changes with the cache.
    static func relative(_ place: String) -> String {
        for marker in ["/src/", "/build-"] {
            if let range = place.range(of: marker, options: .backwards) {
                let rest = place[range.upperBound...]
                return marker == "/src/" ? String(rest) : String(rest.drop { $0 != "/" }.dropFirst())
            }
        }
        return place
    }
}

extension StackDecoder {
    /// `findings` with their stacks decoded, when the kernel directory of `kernel` holds
    /// a vmlinux with DWARF; symbols are read only when a finding has a frame.
    public static func decorate(_ findings: [ConsoleFinding], kernel: String) -> [ConsoleFinding] {
        guard findings.contains(where: { !frames(in: $0.excerpt).isEmpty }) else { return findings }
        let vmlinux = KernelFiles(bzImage: kernel).vmlinux
        guard Files.exists(vmlinux), let decoder = StackDecoder(vmlinux: vmlinux) else { return findings }
        return findings.map { finding in
            var decoded = finding
            decoded.excerpt = decoder.decode(finding.excerpt)
            return decoded
        }
    }
}
