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
