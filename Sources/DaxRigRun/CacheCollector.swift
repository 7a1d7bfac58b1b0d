import Foundation
import DaxRigSupport

/// `daxrig gc`: what the cache holds that can be made again or was only kept for a
/// reader (kept console logs, kernels, guest images, kernel work trees, the kernel's own
/// selftests built from a tree, and their runners, formatted pmem templates), removed oldest
/// first until the cache fits in a budget. Nothing in use goes: a run directory whose
/// daxrig still runs, a work tree a build holds locked, a kernel being stored.
public struct CacheCollector: Sendable {
    public enum Kind: String, Sendable, Codable {
        case keptRun = "kept-run", kernel, image, tree, selftests
        case pmemTemplate = "pmem-template"
        /// On another libvirt host (HostCollector): an uploaded kernel or image, an
        /// upload that never finished, a run's volume whose boot and daxrig are gone.
        case hostVolume = "host-volume", deadUpload = "dead-upload", runVolume = "run-volume"
    }

    public struct Item: Sendable, Codable, Equatable {
        public var kind: Kind
        public var path: String
        /// Bytes on disk (allocated blocks: a sparse pmem file counts what it holds).
        public var bytes: UInt64
        public var modified: Date
    }

    public let cache: Cache

    public init(cache: Cache = .default) { self.cache = cache }

    /// Everything collectable, with its size and age.
    public func items() -> [Item] {
        func entries(_ directory: URL) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        }
        var items: [Item] = []
        for name in entries(cache.runs) where name.hasPrefix("run-") {
            let path = cache.runs.appendingPathComponent(name).path
            // A run in progress is its daxrig's, while that lives; the sweep takes it after.
            // A run of a daxrig that still runs is its own (an older one marks nothing).
            if Files.exists(path + "/" + Leftovers.inProgressMark) { continue }
            if let pid = Leftovers.owner(of: name, prefix: "run-"), Leftovers.alive(pid) { continue }
            items.append(Self.item(.keptRun, path))
        }
        for name in entries(cache.kernels) { items.append(Self.item(.kernel, cache.kernels.appendingPathComponent(name).path)) }
        for name in entries(cache.images) { items.append(Self.item(.image, cache.images.appendingPathComponent(name).path)) }
        for name in entries(cache.trees) {
            // A tree is as old as its last build: each build rewrites its directory's marker.
            var item = Self.item(.tree, cache.trees.appendingPathComponent(name).path)
            for build in entries(URL(fileURLWithPath: item.path)) where build.hasPrefix("build-") {
                let marker = item.path + "/" + build + "/.daxrig-tree"
                if let date = (try? FileManager.default.attributesOfItem(atPath: marker))?[.modificationDate] as? Date {
                    item.modified = max(item.modified, date)
                }
            }
            items.append(item)
        }
        // Selftests built for a tree (a build holds its key's lock), and the runner scripts
        // written for a kernel's config.
        let selftests = cache.selftests
        for name in entries(selftests) where name != "runners" {
            items.append(Self.item(.selftests, selftests.appendingPathComponent(name).path))
        }
        for name in entries(selftests.appendingPathComponent("runners")) {
            items.append(Self.item(.selftests, selftests.appendingPathComponent("runners/" + name).path))
        }
        // A template's time is its last use (PmemTemplates.place touches it).
        let templates = cache.pmemTemplates
        for name in entries(templates) where name.hasSuffix(".img") {
            items.append(Self.item(.pmemTemplate, templates.appendingPathComponent(name).path))
        }
        return items
    }

    /// Which items go, oldest first, for the whole to fit in `keep` bytes.
    public static func chooseOldestFirst(_ items: [Item], keep: UInt64) -> [Item] {
        var total = items.reduce(UInt64(0)) { $0 + $1.bytes }
        var chosen: [Item] = []
        for item in items.sorted(by: { ($0.modified, $0.path) < ($1.modified, $1.path) }) where total > keep {
            chosen.append(item)
            total -= item.bytes
        }
        return chosen
    }

    /// Removes what `chooseOldestFirst` picks; a tree a build holds is skipped (and
    /// said so), the next oldest taken instead. Returns what went and what was skipped.
    public func collect(keep: UInt64, dryRun: Bool = false) throws -> (removed: [Item], skipped: [Item], before: UInt64) {
        Leftovers.sweep(cache)
        var items = self.items()
        let before = items.reduce(UInt64(0)) { $0 + $1.bytes }
        var removed: [Item] = [], skipped: [Item] = []
        while true {
            guard let next = Self.chooseOldestFirst(items, keep: keep).first else { break }
            items.removeAll { $0 == next }
            if next.kind == .tree || next.kind == .selftests {
                let name = URL(fileURLWithPath: next.path).lastPathComponent
                guard let held = try cache.attemptLock(next.kind == .tree ? "tree-\(name)" : "selftests-\(name)") else {
                    skipped.append(next)
                    continue
                }
                defer { held.release() }
                if !dryRun { Files.removeDirectory(next.path) }
            } else if !dryRun {
                Files.removeDirectory(next.path)
            }
            removed.append(next)
        }
        return (removed, skipped, before)
    }

    static func item(_ kind: Kind, _ path: String) -> Item {
        let modified = ((try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date) ?? .distantPast
        return Item(kind: kind, path: path, bytes: allocatedBytes(path), modified: modified)
    }

    /// Bytes allocated under `path`, symbolic links not followed.
    public static func allocatedBytes(_ path: String) -> UInt64 {
        var total: UInt64 = 0
        var info = stat()
        guard lstat(path, &info) == 0 else { return 0 }
        total += UInt64(info.st_blocks) * 512
        guard (info.st_mode & S_IFMT) == S_IFDIR, let walker = FileManager.default.enumerator(atPath: path) else { return total }
        for case let relative as String in walker where lstat(path + "/" + relative, &info) == 0 {
            total += UInt64(info.st_blocks) * 512
        }
        return total
    }
}
