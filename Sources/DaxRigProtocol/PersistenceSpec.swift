#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A persistence check: writers store a pattern through DAX mappings and make it
/// durable (msync, or MAP_SYNC), the guest loses power without syncing or unmounting,
/// and a second guest on the same backing file reads every byte back.
public struct PersistenceSpec: Codable, Sendable, Equatable {
    /// How the writers make their stores durable before the power goes.
    public enum Sync: String, Codable, Sendable, CaseIterable {
        /// MAP_SHARED, then msync(MS_SYNC) of each writer's range.
        case msync
        /// MAP_SHARED_VALIDATE | MAP_SYNC: metadata is durable at fault time, so the
        /// stores alone are enough on pmem; no msync at all.
        case mapSync = "map-sync"
        /// MAP_SHARED and no sync at all: the negative control. The stores reach pmem,
        /// but the file system's record of which blocks hold data may not, so a check
        /// that can tell must find words lost.
        case none
    }

    public var name: String
    /// fsdax-xfs or fsdax-ext4.
    public var backing: WorkloadSpec.Backing
    public var bytes: UInt64
    /// Processes writing, each its own 2 MiB-aligned stripe of the one file.
    public var writers: Int
    public var sync: Sync
    /// Write after writeback: the writers map the whole file (whole GiB) at one 1 GiB-aligned
    /// address and stay mapped once their stripes are durable, while as many rewriters
    /// map it at the same address, store a second pattern over every stripe and make
    /// that durable too; the check then wants the second pattern. A rewriter writes
    /// entries that writeback has just cleaned and write-protected in the writers'
    /// mappings, which with a sharing kernel are its own.
    public var rewrite: Bool
    /// Where in the file the rewriters' mapping starts (whole 4 KiB pages): 0 maps the
    /// file as the writers do (congruent, so a sharing kernel may share their tables);
    /// anything else is a mapping no table of the writers may serve.
    public var rewriteOffset: UInt64

    public init(name: String, backing: WorkloadSpec.Backing, bytes: UInt64, writers: Int = 4, sync: Sync = .msync,
                rewrite: Bool = false, rewriteOffset: UInt64 = 0) {
        self.name = name
        self.backing = backing
        self.bytes = bytes
        self.writers = writers
        self.sync = sync
        self.rewrite = rewrite
        self.rewriteOffset = rewrite ? rewriteOffset : 0
    }

    private enum CodingKeys: String, CodingKey { case name, backing, bytes, writers, sync, rewrite, rewriteOffset }

    /// Checks stored before rewrite existed decode as checks without it.
    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try values.decode(String.self, forKey: .name), backing: try values.decode(WorkloadSpec.Backing.self, forKey: .backing),
                  bytes: try values.decode(UInt64.self, forKey: .bytes), writers: try values.decode(Int.self, forKey: .writers),
                  sync: try values.decode(Sync.self, forKey: .sync), rewrite: try values.decodeIfPresent(Bool.self, forKey: .rewrite) ?? false,
                  rewriteOffset: try values.decodeIfPresent(UInt64.self, forKey: .rewriteOffset) ?? 0)
    }

    /// The file's length: the rewriters' mapping starts `rewriteOffset` in.
    public var fileBytes: UInt64 { mappingBytes + rewriteOffset }

    /// How much of the file each writer and rewriter maps: `bytes`, and with `rewrite`
    /// whole GiB, so that every mapping covers the PUD ranges a sharing kernel serves
    /// from one PMD table however little the check stores. Then only the stores cost:
    /// a rewriter that may not share faults once per 4 KiB page it stores to, which
    /// for a whole GiB under TCG takes many minutes, and a check of 64 MiB in a GiB
    /// mapping still puts every rewriter in the writers' tables where a kernel shares.
    public var mappingBytes: UInt64 { rewrite ? (bytes + (1 << 30) - 1) & ~((1 << 30) - 1) : bytes }

    /// The file offsets the last writers store to and the check reads back.
    public var checkedRange: Range<UInt64> { rewriteOffset..<(rewriteOffset + bytes) }

    /// Where every writer and rewriter maps the file: 1 GiB-aligned, as workloads do, so
    /// each mapping covers whole PUD ranges a sharing kernel can serve from one table.
    public static let rewriteAddress: UInt64 = 1 << 40

    /// The pattern the check wants: the rewriters' with `rewrite`, else the writers'.
    public var checkedSeed: UInt64 { rewrite ? rewriteSeed : patternSeed }
    public var rewriteSeed: UInt64 { patternSeed ^ 0xA076_1D64_78BD_642F }

    /// The file in the pmem mount.
    public var fileName: String { "daxrig-\(name)" }

    /// The word stored at byte `offset` of the file: differs per offset and per spec,
    /// so a stale block, a zeroed block or another run's file all read back wrong.
    public func pattern(offset: UInt64) -> UInt64 { Self.pattern(offset: offset, seed: patternSeed) }

    /// The per-spec part of the pattern, computed once per stripe.
    public var patternSeed: UInt64 { Pattern.seed(name) }

    @inlinable
    public static func pattern(offset: UInt64, seed: UInt64) -> UInt64 { Pattern.word(offset: offset, seed: seed) }
}

/// What one phase of a persistence check found in the guest.
public struct PersistenceReport: Codable, Sendable, Equatable {
    public enum Phase: String, Codable, Sendable {
        case write, verify
    }

    public var spec: PersistenceSpec
    public var phase: Phase
    /// Bytes written (write) or read back and compared (verify).
    public var bytes: UInt64
    /// verify: 8-byte words that read back wrong, and where the first one is.
    public var mismatchedWords: UInt64
    public var firstMismatchOffset: UInt64?
    /// write: writers whose map, stores or sync failed (exit status not 0).
    public var failedWriters: Int
    public var seconds: Double
    public var notes: [String]

    public init(spec: PersistenceSpec, phase: Phase, bytes: UInt64, mismatchedWords: UInt64 = 0, firstMismatchOffset: UInt64? = nil,
                failedWriters: Int = 0, seconds: Double, notes: [String] = []) {
        self.spec = spec
        self.phase = phase
        self.bytes = bytes
        self.mismatchedWords = mismatchedWords
        self.firstMismatchOffset = firstMismatchOffset
        self.failedWriters = failedWriters
        self.seconds = seconds
        self.notes = notes
    }
}
