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

    public init(name: String, backing: WorkloadSpec.Backing, bytes: UInt64, writers: Int = 4, sync: Sync = .msync) {
        self.name = name
        self.backing = backing
        self.bytes = bytes
        self.writers = writers
        self.sync = sync
    }

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
