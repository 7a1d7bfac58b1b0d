#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// /proc/meminfo: "Name:   1234 kB" lines, values in bytes.
public struct MemInfo: Sendable, Equatable, Codable {
    public var bytes: [String: UInt64]

    public init(text: String) {
        var bytes: [String: UInt64] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let fields = line[line.index(after: colon)...].split(whereSeparator: \.isWhitespace)
            guard let number = fields.first.flatMap({ UInt64($0) }) else { continue }
            bytes[String(line[..<colon])] = fields.count > 1 && fields[1] == "kB" ? number * 1024 : number
        }
        self.bytes = bytes
    }

    /// Bytes of page-table pages, system-wide: the only counter that shows a shared
    /// PMD table once (per-mm counters charge it to every sharer).
    public var pageTables: UInt64? { bytes["PageTables"] }
}

/// /proc/<pid>/status: the per-process counters the workload reads.
public struct ProcStatus: Sendable, Equatable, Codable {
    public var bytes: [String: UInt64]

    public init(text: String) {
        bytes = MemInfo(text: text).bytes
    }

    /// This mm's page-table bytes (mm_pgtables_bytes): PTE and PMD table pages, charged
    /// to every mm that uses them, shared or not.
    public var vmPTE: UInt64? { bytes["VmPTE"] }

    /// `key`'s value in bytes, found in raw status text without allocating: a reading
    /// taken inside a measured window must not grow the heap it measures (a heap that
    /// crosses into a fresh 2 MiB region adds a PTE table to VmPTE). Same answers as
    /// `init(text:)` for a "Key:  123 kB" line; nil when the key is not there.
    public static func value(of key: StaticString, in text: UnsafeRawBufferPointer) -> UInt64? {
        key.withUTF8Buffer { value(of: UnsafeRawBufferPointer($0), in: text) }
    }

    private static func value(of name: UnsafeRawBufferPointer, in text: UnsafeRawBufferPointer) -> UInt64? {
        var start = 0
        while start < text.count {
            var end = start
            while end < text.count, text[end] != UInt8(ascii: "\n") { end += 1 }
            if end - start > name.count, text[start + name.count] == UInt8(ascii: ":"),
               (0..<name.count).allSatisfy({ text[start + $0] == name[$0] }) {
                return number(in: text, from: start + name.count + 1, to: end)
            }
            start = end + 1
        }
        return nil
    }

    /// "  123 kB" as bytes, "  123" as itself; nil without digits or on overflow.
    private static func number(in text: UnsafeRawBufferPointer, from: Int, to end: Int) -> UInt64? {
        var at = from
        while at < end, text[at] == UInt8(ascii: " ") || text[at] == UInt8(ascii: "\t") { at += 1 }
        var value: UInt64 = 0, digits = 0
        while at < end, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[at]) {
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times.addingReportingOverflow(UInt64(text[at] - UInt8(ascii: "0")))
            guard !overflow, !carry else { return nil }
            value = sum; digits += 1; at += 1
        }
        guard digits > 0, at == end || text[at] == UInt8(ascii: " ") || text[at] == UInt8(ascii: "\t") else { return nil }
        while at < end, text[at] == UInt8(ascii: " ") || text[at] == UInt8(ascii: "\t") { at += 1 }
        let unit = end - at >= 2 && text[at] == UInt8(ascii: "k") && text[at + 1] == UInt8(ascii: "B")
            && (end - at == 2 || text[at + 2] == UInt8(ascii: " ") || text[at + 2] == UInt8(ascii: "\t"))
        guard unit else { return value }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: 1024)
        return overflow ? nil : bytes
    }
}

/// /proc/vmstat: "name value" lines.
public struct VmStat: Sendable, Equatable, Codable {
    public var counters: [String: UInt64]

    public init(text: String) {
        var counters: [String: UInt64] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(whereSeparator: \.isWhitespace)
            if fields.count == 2, let value = UInt64(fields[1]) { counters[String(fields[0])] = value }
        }
        self.counters = counters
    }
}

/// fs_dax:dax_pmd_fault_done events by result, from a `hist:keys=result` trigger's
/// hist file: lines such as "{ result:        256 } hitcount:       2048".
public struct PmdFaultCounts: Codable, Sendable, Equatable {
    /// VM_FAULT_NOPAGE (0x100): the PMD was mapped; or VM_FAULT_NEEDDSYNC (0x2000),
    /// MAP_SYNC's way to the same PMD once the file system synced its metadata.
    public var noPage: UInt64
    /// VM_FAULT_FALLBACK (0x800): DAX gave the region back to the PTE path.
    public var fallback: UInt64
    /// Any other result (errors, retries).
    public var other: UInt64

    public init(noPage: UInt64 = 0, fallback: UInt64 = 0, other: UInt64 = 0) {
        self.noPage = noPage
        self.fallback = fallback
        self.other = other
    }

    public init(hist: String) {
        self.init()
        for line in hist.split(separator: "\n") where line.hasPrefix("{ result:") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "{" || $0 == "}" || $0 == ":" })
            guard let at = words.firstIndex(of: "result"), at + 1 < words.count, let result = Int64(words[at + 1]),
                  let hits = words.firstIndex(of: "hitcount").flatMap({ $0 + 1 < words.count ? UInt64(words[$0 + 1]) : nil }) else { continue }
            if result & 0x800 != 0 { fallback += hits } else if result & 0x2100 != 0 { noPage += hits } else { other += hits }
        }
    }
}
