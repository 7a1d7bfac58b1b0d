import DaxRigSupport
import Foundation

/// A kernel stack as file:line: every `function+0xOFF/0xSIZE` of a crash excerpt gets
/// the source line vmlinux's DWARF names for it, as the tree's decode_stacktrace.sh
/// does. Addresses are taken from the symbol and offset, never from the printed
/// address, so a KASLR-shifted guest decodes the same.
public struct StackDecoder: Sendable {
    /// vmlinux with debug info.
    public let vmlinux: String
    /// Function start addresses and sizes, by name: a static function's name can be
    /// defined in several files (the 6.1 kernel has hundreds), and the frame's /0xSIZE
    /// tells which.
    let symbols: [String: [(address: UInt64, size: UInt64?)]]

    /// Reads vmlinux's symbol table once; nil when vmlinux has no DWARF (addr2line
    /// would only say "??:0") or cannot be read.
    public init?(vmlinux: String) {
        guard let sections = try? Command("readelf", ["-S", "-W", vmlinux]).runAllowingFailure(), sections.status == 0,
              sections.standardOutput.contains(".debug_info"),
              let table = try? Command("nm", ["-n", vmlinux]).runAllowingFailure(), table.status == 0 else { return nil }
        self.symbols = Self.functions(nmSorted: table.standardOutput)
        self.vmlinux = vmlinux
    }

    /// Text symbols of `nm -n` output, each with the size the kernel prints after the
    /// slash: the distance to the next symbol at a higher address, as kallsyms counts
    /// it (kallsyms_lookup_size_offset), not the ELF size, which leaves out the
    /// padding that function alignment puts after a function. The last one has none.
    static func functions(nmSorted output: String) -> [String: [(address: UInt64, size: UInt64?)]] {
        var text: [(name: String, address: UInt64)] = []
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let type = fields[1].first, "tTwW".contains(type), let address = UInt64(fields[0], radix: 16) else { continue }
            text.append((String(fields[2]), address))
        }
        var functions: [String: [(address: UInt64, size: UInt64?)]] = [:]
        // Downwards: `higher` is the lowest address above the current one (aliases, at
        // one address, share it).
        var higher: UInt64?
        var above: UInt64?
        for (name, address) in text.reversed() {
            if let above, above > address { higher = above }
            functions[name, default: []].append((address, higher.map { $0 - address }))
            above = address
        }
        return functions
    }

    /// The frames of `text` ("dax_iomap_pmd_fault+0x3c/0x5f0"), in order, with the
    /// function's size the kernel printed. A module's frame ("f+0x1/0x2 [nvdimm]") is
    /// left out: its code is not in vmlinux, and a vmlinux function of the same name
    /// would give it another function's line.
    static func frames(in text: String) -> [(line: Int, function: String, offset: UInt64, size: UInt64?)] {
        var frames: [(Int, String, UInt64, UInt64?)] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = line.split(whereSeparator: { " \t():".contains($0) })
            for (position, word) in words.enumerated() {
                let parts = word.split(separator: "+")
                guard parts.count == 2, let slash = parts[1].firstIndex(of: "/"),
                      parts[1].hasPrefix("0x"), let offset = UInt64(parts[1][parts[1].index(parts[1].startIndex, offsetBy: 2)..<slash], radix: 16),
                      parts[0].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) else { continue }
                if position + 1 < words.count, isModuleName(words[position + 1]) { continue }
                let sizeText = parts[1][parts[1].index(after: slash)...]
                frames.append((index, String(parts[0]), offset, sizeText.hasPrefix("0x") ? UInt64(sizeText.dropFirst(2), radix: 16) : nil))
            }
        }
        return frames
    }

    /// "[nvdimm]", or "[nvdimm" of "[nvdimm 1a2b...]" with a build id
    /// (CONFIG_STACKTRACE_BUILD_ID): how the kernel names the module a frame is in.
    static func isModuleName(_ word: Substring) -> Bool {
        word.count > 1 && word.first == "[" && !word.contains("/")
    }

    /// Where a frame's function starts: the one definition of its name, or of several
    /// (static functions of one name in different files) the one of the printed size;
    /// nil when that still leaves more than one, or none.
    func start(of function: String, size: UInt64?) -> UInt64? {
        guard let defined = symbols[function] else { return nil }
        if defined.count == 1 { return defined[0].address }
        let sized = defined.filter { $0.size == size }
        return sized.count == 1 ? sized[0].address : nil
    }

    /// `text` with " [file:line]" after each frame addr2line could place, innermost
    /// inline first; unchanged when nothing could be.
    public func decode(_ text: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // A call trace's frames are return addresses: the call is the byte before (a
        // call that never returns would otherwise land in the next function). The
        // trapping instruction (RIP) is itself.
        let frames = Self.frames(in: text).compactMap { frame in
            start(of: frame.function, size: frame.size).map { (frame.line, $0 + frame.offset - (lines[frame.line].contains("RIP:") || frame.offset == 0 ? 0 : 1)) }
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
