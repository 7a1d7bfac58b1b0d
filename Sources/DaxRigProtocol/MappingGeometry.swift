/// Where each process of a workload maps the file: its file offset, its address shift
/// and how many mappings of the file it holds. Sharing code that assumed every process
/// maps the file the same way (the same address, offset 0) passed every spec that did
/// so and corrupted data the first time two processes did not: a workload that can
/// fail a kernel varies this.
///
/// Offsets and shifts are lists in bytes (whole 4 KiB pages) taken in turn by worker
/// index, so `[0, 4096]` gives even workers offset 0 and odd ones 4096. Mapping `k` of a
/// process lies `k x stride` above its first; all of a process's mappings have the same
/// file offset and length.
public struct MappingGeometry: Codable, Sendable, Equatable {
    public var fileOffsets: [UInt64]
    public var addressShifts: [UInt64]
    public var mappings: Int

    public static let page: UInt64 = 4096
    public static let pudSpan: UInt64 = 1 << 30
    /// The slot every mapping lies in (one PUD table for all of them).
    public static let slotSpan: UInt64 = 512 << 30
    /// The most mappings per process.
    public static let maximumMappings = 16

    public init(fileOffsets: [UInt64] = [0], addressShifts: [UInt64] = [0], mappings: Int = 1) {
        self.fileOffsets = fileOffsets.isEmpty ? [0] : fileOffsets
        self.addressShifts = addressShifts.isEmpty ? [0] : addressShifts
        self.mappings = mappings
    }

    /// Every process maps once at the base address, file offset 0: daxrig's first wave.
    public static let uniform = MappingGeometry()

    public var isUniform: Bool { self == .uniform }

    public func fileOffset(of worker: Int) -> UInt64 { fileOffsets[worker % fileOffsets.count] }
    public func addressShift(of worker: Int) -> UInt64 { addressShifts[worker % addressShifts.count] }

    /// The largest offset any process maps at: the file must be that much longer.
    public var maximumFileOffset: UInt64 { fileOffsets.max() ?? 0 }
    public var maximumAddressShift: UInt64 { addressShifts.max() ?? 0 }

    /// The distance between a process's mappings: whole PUD ranges with one empty range
    /// between them, so no two mappings touch a PMD table in common or merge.
    public func stride(length: UInt64) -> UInt64 {
        ((maximumAddressShift + length + Self.pudSpan - 1) / Self.pudSpan + 1) * Self.pudSpan
    }

    /// The addresses of `worker`'s mappings when the workload's base address is `base`.
    public func addresses(of worker: Int, base: UInt64, length: UInt64) -> [UInt64] {
        (0..<mappings).map { base + addressShift(of: worker) + UInt64($0) * stride(length: length) }
    }

    /// The file range every process maps: writers' stripes are cut from it, so every
    /// process can check every stripe through any of its mappings.
    public func commonFileRange(processes: Int, length: UInt64) -> Range<UInt64> {
        let offsets = (0..<min(processes, fileOffsets.count)).map(fileOffset(of:))
        let low = offsets.max() ?? 0, high = (offsets.min() ?? 0) + length
        return low < high ? low..<high : low..<low
    }

    /// What is wrong with this geometry for a mapping of `length` bytes at `base`, if
    /// anything (nil: usable), and the spec key that says it: offsets, shifts or mappings.
    public func problem(length: UInt64, base: UInt64) -> (key: String, message: String)? {
        if let bad = fileOffsets.first(where: { $0 % Self.page != 0 }) { return ("offsets", "\(bad) is not a whole number of 4 KiB pages") }
        if let bad = addressShifts.first(where: { $0 % Self.page != 0 }) { return ("shifts", "\(bad) is not a whole number of 4 KiB pages") }
        guard (1...Self.maximumMappings).contains(mappings) else { return ("mappings", "\(mappings) mappings per process: use 1 to \(Self.maximumMappings)") }
        if maximumAddressShift >= Self.pudSpan { return ("shifts", "an address shift of \(maximumAddressShift) bytes is past 1 GiB: use less") }
        if maximumFileOffset >= length { return ("offsets", "a file offset of \(maximumFileOffset) bytes leaves no file range every process maps") }
        if base % Self.slotSpan + UInt64(mappings) * stride(length: length) > Self.slotSpan {
            return ("mappings", "\(mappings) mappings of \(length >> 20) MiB do not fit in one 512 GiB slot")
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
