/// Where each process of a workload maps the file: its file offset, its address shift
/// and how many mappings of the file it holds. Sharing code that assumed every process
/// maps the file the same way (the same address, offset 0) passed every spec that did
/// so and corrupted data the first time two processes did not: a workload that can
/// fail a kernel varies this.
///
/// Offsets and shifts are lists in bytes (whole 4 KiB pages) taken in turn by worker
/// index, so `[0, 4096]` gives even workers offset 0 and odd ones 4096. Mapping `k` of a
/// process lies `k x stride` above its first; all of a process's mappings have the same
/// file offset and length. Lengths and read-only modes are lists taken in turn too
/// (empty: the spec's size, and read-write, for everyone).
public struct MappingGeometry: Codable, Sendable, Equatable {
    public var fileOffsets: [UInt64]
    public var addressShifts: [UInt64]
    public var mappings: Int
    /// Per worker, in turn: the length it maps, in whole 4 KiB pages.
    public var lengths: [UInt64]
    /// Per worker, in turn: whether it maps PROT_READ from an O_RDONLY descriptor.
    public var readOnly: [Bool]

    /// How a worker maps the file (the spec's `modes`): read-write, or PROT_READ from
    /// an O_RDONLY descriptor.
    public enum Mode: String, CaseIterable, Sendable {
        case rw, ro
    }

    public static let page: UInt64 = 4096
    public static let pudSpan: UInt64 = 1 << 30
    /// The slot every mapping lies in (one PUD table for all of them).
    public static let slotSpan: UInt64 = 512 << 30
    /// The most mappings per process.
    public static let maximumMappings = 16

    public init(fileOffsets: [UInt64] = [0], addressShifts: [UInt64] = [0], mappings: Int = 1, lengths: [UInt64] = [], readOnly: [Bool] = []) {
        self.fileOffsets = fileOffsets.isEmpty ? [0] : fileOffsets
        self.addressShifts = addressShifts.isEmpty ? [0] : addressShifts
        self.mappings = mappings
        self.lengths = lengths
        self.readOnly = readOnly.allSatisfy { !$0 } ? [] : readOnly
    }

    private enum CodingKeys: String, CodingKey { case fileOffsets, addressShifts, mappings, lengths, readOnly }

    /// Geometry stored before lengths and modes existed decodes with neither.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(fileOffsets: try c.decode([UInt64].self, forKey: .fileOffsets), addressShifts: try c.decode([UInt64].self, forKey: .addressShifts),
                  mappings: try c.decode(Int.self, forKey: .mappings), lengths: try c.decodeIfPresent([UInt64].self, forKey: .lengths) ?? [],
                  readOnly: try c.decodeIfPresent([Bool].self, forKey: .readOnly) ?? [])
    }

    /// Every process maps once at the base address, file offset 0: daxrig's first wave.
    public static let uniform = MappingGeometry()

    public var isUniform: Bool { self == .uniform }

    public func fileOffset(of worker: Int) -> UInt64 { fileOffsets[worker % fileOffsets.count] }
    public func addressShift(of worker: Int) -> UInt64 { addressShifts[worker % addressShifts.count] }

    /// What `worker` maps: `size` unless `lengths` says otherwise.
    public func length(of worker: Int, size: UInt64) -> UInt64 { lengths.isEmpty ? size : lengths[worker % lengths.count] }
    public func isReadOnly(_ worker: Int) -> Bool { readOnly.isEmpty ? false : readOnly[worker % readOnly.count] }
    public func maximumLength(size: UInt64) -> UInt64 { lengths.max() ?? size }

    /// The largest offset any process maps at: the file must be that much longer.
    public var maximumFileOffset: UInt64 { fileOffsets.max() ?? 0 }
    public var maximumAddressShift: UInt64 { addressShifts.max() ?? 0 }

    /// The distance between a process's mappings: whole PUD ranges with one empty range
    /// between them, so no two mappings touch a PMD table in common or merge.
    public func stride(length: UInt64) -> UInt64 {
        ((maximumAddressShift + length + Self.pudSpan - 1) / Self.pudSpan + 1) * Self.pudSpan
    }

    /// The addresses of `worker`'s mappings when the workload's base address is `base`
    /// and the spec's size `size` (the stride leaves room for the longest mapping).
    public func addresses(of worker: Int, base: UInt64, length size: UInt64) -> [UInt64] {
        (0..<mappings).map { base + addressShift(of: worker) + UInt64($0) * stride(length: maximumLength(size: size)) }
    }

    /// The file range every process maps: writers' stripes are cut from it, so every
    /// process can check every stripe through any of its mappings.
    public func commonFileRange(processes: Int, length size: UInt64) -> Range<UInt64> {
        let workers = 0..<min(processes, max(fileOffsets.count, 1) * max(lengths.count, 1))
        let low = workers.map(fileOffset(of:)).max() ?? 0
        let high = workers.map { fileOffset(of: $0) + length(of: $0, size: size) }.min() ?? size
        return low < high ? low..<high : low..<low
    }

    /// The workers that store the data pattern: the read-write ones.
    public func writers(processes: Int) -> [Int] { (0..<processes).filter { !isReadOnly($0) } }

    /// What is wrong with this geometry for a mapping of `length` bytes at `base`, if
    /// anything (nil: usable), and the spec key that says it: offsets, shifts or mappings.
    public func problem(length: UInt64, base: UInt64) -> (key: String, message: String)? {
        if let bad = fileOffsets.first(where: { $0 % Self.page != 0 }) { return ("offsets", "\(bad) is not a whole number of 4 KiB pages") }
        if let bad = addressShifts.first(where: { $0 % Self.page != 0 }) { return ("shifts", "\(bad) is not a whole number of 4 KiB pages") }
        guard (1...Self.maximumMappings).contains(mappings) else { return ("mappings", "\(mappings) mappings per process: use 1 to \(Self.maximumMappings)") }
        if let bad = lengths.first(where: { $0 == 0 || $0 % Self.page != 0 }) { return ("lengths", "\(bad) is not a whole, non-zero number of 4 KiB pages") }
        if !readOnly.isEmpty, readOnly.allSatisfy({ $0 }) { return ("modes", "every process read-only leaves nobody to write the data the others check") }
        // Below the shortest length, every process's range contains the largest offset.
        if maximumFileOffset >= (lengths.min() ?? length) { return ("offsets", "a file offset of \(maximumFileOffset) bytes leaves no file range every process maps") }
        if maximumAddressShift >= Self.pudSpan { return ("shifts", "an address shift of \(maximumAddressShift) bytes is past 1 GiB: use less") }
        if base % Self.slotSpan + UInt64(mappings) * stride(length: maximumLength(size: length)) > Self.slotSpan {
            return ("mappings", "\(mappings) mappings of \(maximumLength(size: length) >> 20) MiB do not fit in one 512 GiB slot")
        }
        return nil
    }
}

/// The first word a workload worker read wrong, with the file offset whose word it
/// read instead when the word is one of the pattern's: "read page p where it must read
/// p + 1" is a table shared by mappings that are not congruent.
public struct WordMismatch: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Which of the worker's mappings, and the file offset it read there.
    public var mapping: Int
    public var fileOffset: UInt64
    public var found: UInt64
    /// The file offset whose pattern word `found` is, if it is one.
    public var foundOffset: UInt64?

    public init(mapping: Int, fileOffset: UInt64, found: UInt64, foundOffset: UInt64?) {
        self.mapping = mapping
        self.fileOffset = fileOffset
        self.found = found
        self.foundOffset = foundOffset
    }

    public var description: String {
        let what = foundOffset.map { "the word of file offset \($0) (\(Int64(bitPattern: $0 &- fileOffset)) bytes off)" }
            ?? (found == 0 ? "zeros" : "0x\(String(found, radix: 16))")
        return "mapping \(mapping) at file offset \(fileOffset) read \(what)"
    }
}
