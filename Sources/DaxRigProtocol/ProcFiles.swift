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
