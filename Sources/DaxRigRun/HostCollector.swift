import DaxRigMachine
import DaxRigSupport
import Foundation

/// `daxrig gc --host URI`: daxrig's pool on another libvirt host, collected as the cache
/// is here (issue 19). Kernels and images stay there once uploaded, one volume per
/// content, so a host that serves nights for months fills its disk unless something
/// removes them: the oldest uploads go first until the pool fits in `keep`, and any
/// can be uploaded again by the next boot that needs it.
///
/// What goes first, whatever the budget: a run's volumes whose boot is over and whose
/// daxrig died (`LibvirtPool.sweepRuns`), and an upload that never finished and has not
/// changed for `staleAfter`. What never goes: a volume a running domain uses (its path
/// is in the domain's XML, whoever started it), one a boot or an upload of this machine
/// holds (`LibvirtPool.Volume.use`, the upload lock), and only daxrig's own volumes are
/// looked at. A boot on another machine that found a volume and has not started its
/// domain yet can still lose it, and fails as an infrastructure error: collect a host
/// between nights.
public struct HostCollector: Sendable {
    public let uri: String
    public let cache: Cache
    public var staleAfter: Double

    public init(uri: String, cache: Cache = .default, staleAfter: Double = 600) {
        self.uri = uri
        self.cache = cache
        self.staleAfter = staleAfter
    }

    /// `keep` bounds the uploads (kernels and images): the running boots' own volumes
    /// are theirs, counted and removed by no budget, as a running run's directory is not
    /// in the cache's. A host without daxrig's pool has nothing to collect, and gets none.
    public func collect(keep: UInt64, dryRun: Bool = false) throws -> (removed: [CacheCollector.Item], skipped: [CacheCollector.Item], before: UInt64) {
        let connection = try LibvirtConnection(uri: uri)
        guard let pool = connection.existingDaxrigPool() else { return ([], [], 0) }
        // One listing: the sweep below removes run volumes only, never an upload.
        let volumes = try pool.held()
        let swept = dryRun ? [] : Set(try pool.sweepRuns(staleAfter: staleAfter))
        var removed = volumes.filter { swept.contains($0.name) }.map { Self.item(.runVolume, $0) }
        let uploads = volumes.filter { !$0.isRun }
        let before = (uploads.map(\.bytes) + removed.map(\.bytes)).reduce(0, +)
        var skipped: [CacheCollector.Item] = []
        // Uploads under way stay, and take their room in the budget (reported as nothing).
        var underWay: UInt64 = 0
        var live: [CacheCollector.Item] = []
        let byPath = Dictionary(uploads.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        for volume in uploads {
            if volume.finished {
                live.append(Self.item(.hostVolume, volume))
            } else if Date().timeIntervalSince(volume.modified) > staleAfter,
                      try remove(volume, from: pool, connection: connection, dryRun: dryRun) {
                removed.append(Self.item(.deadUpload, volume))
            } else {
                // Young, it may be an upload under way on another machine.
                underWay += volume.bytes
            }
        }
        // Oldest first until the rest fits; one that stays (a guest uses it, or a boot or
        // an upload here holds it) counts as kept, and the next oldest is weighed instead.
        while true {
            let held = skipped.map(\.bytes).reduce(underWay, +)
            guard let next = CacheCollector.chooseOldestFirst(live, keep: keep > held ? keep - held : 0).first,
                  let volume = byPath[next.path] else { break }
            live.removeAll { $0 == next }
            if try remove(volume, from: pool, connection: connection, dryRun: dryRun) { removed.append(next) } else { skipped.append(next) }
        }
        return (removed, skipped, before)
    }

    /// Removes `volume` unless daxrig on this machine uploads or uses that content now
    /// (its locks are held) or a running domain there names it, looked at once the locks
    /// are taken: a boot here takes its use lock before its domain exists, and holds it
    /// until the domain is gone. Says whether it went (or would, dry).
    private func remove(_ volume: LibvirtPool.Held, from pool: LibvirtPool, connection: LibvirtConnection, dryRun: Bool) throws -> Bool {
        var locks: [FileLock] = []
        defer { locks.forEach { $0.release() } }
        for name in volume.locks {
            guard let lock = try cache.attemptLock(name) else { return false }
            locks.append(lock)
        }
        if try connection.activeDomainDescriptions().contains(where: { $0.contains(volume.path) }) { return false }
        guard !dryRun else { return true }
        do {
            try pool.delete(volume.name)
        } catch {
            // Another machine's gc or sweep may have taken it first: gone is gone.
            guard try pool.volumeNames().contains(volume.name) else { return true }
            throw error
        }
        return true
    }

    static func item(_ kind: CacheCollector.Kind, _ volume: LibvirtPool.Held) -> CacheCollector.Item {
        CacheCollector.Item(kind: kind, path: volume.path, bytes: volume.bytes, modified: volume.modified)
    }
}
