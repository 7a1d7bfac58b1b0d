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
/// is in the domain's XML, whoever started it), and an upload daxrig on this machine has
/// under way (its upload lock is held). A boot on another machine that found a volume
/// and has not started its domain yet can still lose it: that boot's start fails as an
/// infrastructure error, re-run as one; collect a host between nights to avoid it.
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
    /// in the cache's.
    public func collect(keep: UInt64, dryRun: Bool = false) throws -> (removed: [CacheCollector.Item], skipped: [CacheCollector.Item], before: UInt64) {
        let connection = try LibvirtConnection(uri: uri)
        let pool = try connection.daxrigPool()
        var removed: [CacheCollector.Item] = []
        if !dryRun {
            let before = Dictionary(try pool.held().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            for name in try pool.sweepRuns(staleAfter: staleAfter) {
                if let volume = before[name] { removed.append(Self.item(.runVolume, volume)) }
            }
        }
        let uploads = try pool.held().filter { !$0.isRun }
        let before = (uploads.map(\.bytes) + removed.map(\.bytes)).reduce(0, +)
        let used = try connection.activeDomainDescriptions().joined(separator: "\n")
        var skipped: [CacheCollector.Item] = []
        var live: [CacheCollector.Item] = []
        var byPath: [String: LibvirtPool.Held] = [:]
        for volume in uploads {
            byPath[volume.path] = volume
            if used.contains(volume.path) {
                skipped.append(Self.item(.hostVolume, volume))
            } else if volume.finished {
                live.append(Self.item(.hostVolume, volume))
            } else if Date().timeIntervalSince(volume.modified) > staleAfter {
                // Young, it may be an upload under way on another machine.
                if try remove(volume, as: .deadUpload, from: pool, dryRun: dryRun) { removed.append(Self.item(.deadUpload, volume)) }
            }
        }
        // Oldest first until the rest fits; one that stays (an upload of it under way
        // here) counts as kept, and the next oldest is weighed instead.
        while true {
            let held = skipped.map(\.bytes).reduce(0, +)
            guard let next = CacheCollector.chooseOldestFirst(live, keep: keep > held ? keep - held : 0).first,
                  let volume = byPath[next.path] else { break }
            live.removeAll { $0 == next }
            if try remove(volume, as: .hostVolume, from: pool, dryRun: dryRun) { removed.append(next) } else { skipped.append(next) }
        }
        return (removed, skipped, before)
    }

    /// Removes `volume` unless daxrig on this machine is uploading or finding that
    /// content now (its upload lock is held); says whether it went.
    private func remove(_ volume: LibvirtPool.Held, as kind: CacheCollector.Kind, from pool: LibvirtPool, dryRun: Bool) throws -> Bool {
        guard let name = volume.uploadLock, let lock = try cache.attemptLock(name) else { return false }
        defer { lock.release() }
        if !dryRun { try pool.delete(volume.name) }
        return true
    }

    static func item(_ kind: CacheCollector.Kind, _ volume: LibvirtPool.Held) -> CacheCollector.Item {
        CacheCollector.Item(kind: kind, path: volume.path, bytes: volume.bytes, modified: volume.modified)
    }
}
