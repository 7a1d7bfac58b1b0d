import DaxRigProtocol
import Foundation
import DaxRigSupport

/// A guest image in the cache: Cache.images/<key>/initramfs.cpio and manifest.json.
public struct GuestImage: Sendable {
    public var key: String
    public var directory: URL
    /// The initramfs (uncompressed newc cpio): the stripped agent as /init plus the tools.
    public var initramfs: String { directory.appendingPathComponent("initramfs.cpio").path }
    public var manifestPath: String { directory.appendingPathComponent("manifest.json").path }
    public var manifest: ImageManifest
    /// True when the image was already in the cache and nothing was packed.
    public var cacheHit: Bool
}

/// Builds guest images from a recipe and the agent binary, cached by content.
///
/// The image never contains the run plan, which the host sends on the agent's channel
/// (`HostMessage.plan`): one cached image is every run's initrd, byte for byte, unless
/// the user adds files (`runInitrd`), whose archive the kernel unpacks after it.
public struct ImageBuilder: Sendable {
    public let cache: Cache
    public let progress: ProgressSink
    public let host: HostLookup

    public init(cache: Cache = .default, progress: ProgressSink = SilentProgress(), host: HostLookup = .system) {
        self.cache = cache
        self.progress = progress
        self.host = host
    }

    /// The image for the built-in recipe and the agent next to the running executable
    /// (`AgentBinary.locate()`), unless paths are given.
    public func build(recipePath: String? = nil, agentPath: String? = nil) throws -> GuestImage {
        let recipe = try recipePath.map { try ImageRecipe.load(path: $0) } ?? .builtIn
        return try build(recipe: recipe, agent: agentPath ?? AgentBinary.locate())
    }

    /// Strips a copy of the agent, resolves the recipe, and returns the cached image for
    /// that content, packing it first if it is not there yet. Safe to call from several
    /// processes at once: one packs while the others wait for its lock.
    public func build(recipe: ImageRecipe, agent: String) throws -> GuestImage {
        let started = Date()
        let images = try cache.directory(cache.images)
        let memo = ImageMemo(cache: cache, recipe: recipe, agent: agent)
        if let key = memo.validKey(), let hit = cached(key: key) { return hit }
        Leftovers.sweep(cache)
        let staging = try Files.temporaryDirectory(in: images, prefix: ".tmp-")
        defer { Files.remove(staging.path) }

        let stripped = staging.appendingPathComponent(AgentBinary.productName).path
        guard Files.exists(agent) else { throw ImageError.agentNotFound(searched: [agent]) }
        try Command("strip", ["-o", stripped, agent]).run()
        let agentBytes = try Data(contentsOf: URL(fileURLWithPath: stripped))
        Files.remove(stripped)

        let contents = try ImageContents.resolve(recipe, agent: agentBytes, agentSource: agent, host: host)
        let key = try contents.key()
        let final = images.appendingPathComponent(key)
        if let hit = cached(key: key) { memo.record(hit); return hit }

        let lock = try cache.lock("image-\(key)")
        defer { lock.release() }
        if let hit = cached(key: key) { return hit }

        progress.phase("image", "packing \(recipe.source) with \(agent) (key \(key))")
        let archive = try contents.archive()
        let bytes = try archive.bytes()
        try Files.write(bytes, to: staging.appendingPathComponent("initramfs.cpio").path)
        let manifest = ImageManifest(key: key, contents: contents, members: try archive.members(), agent: agent,
                                     agentSize: agentBytes.count, totalSize: bytes.count)
        try Files.write(try JSONCoding.encoder.encode(manifest), to: staging.appendingPathComponent("manifest.json").path)
        // Holding the lock and still no hit: whatever is there is not a finished image.
        Files.remove(final.path)
        do {
            try FileManager.default.moveItem(at: staging, to: final)
        } catch {
            throw FileError.unwritable(path: final.path, reason: error.localizedDescription)
        }
        let image = GuestImage(key: key, directory: final, manifest: manifest, cacheHit: false)
        memo.record(image)
        progress.phase("image", "packed \(manifest.entries.count) entries, \(bytes.count / 1024) KiB in "
            + String(format: "%.1f s", Date().timeIntervalSince(started)))
        return image
    }

    /// The cached image for `key`, if it is complete.
    public func cached(key: String) -> GuestImage? {
        let directory = cache.images.appendingPathComponent(key)
        guard Files.exists(directory.appendingPathComponent("initramfs.cpio").path),
              let data = try? Data(contentsOf: directory.appendingPathComponent("manifest.json")),
              let manifest = try? JSONCoding.decoder.decode(ImageManifest.self, from: data),
              manifest.key == key else { return nil }
        // Its time is its last use, for `daxrig gc`'s oldest-first: boots use the image
        // in place, as their initrd, so the one in use must not look like the oldest.
        _ = utimes(directory.path, nil)
        return GuestImage(key: key, directory: directory, manifest: manifest, cacheHit: true)
    }

    /// The initrd for one run: the cached image itself, which every boot of it shares
    /// (and another host holds once, by content); or, with the user's additions, the
    /// image's bytes and their archive written to `path`, this boot's alone.
    public static func runInitrd(image: GuestImage, additions: Data, at path: String) throws -> String {
        guard !additions.isEmpty else { return image.initramfs }
        // The image mapped and written from its mapping, then the additions: FileManager's
        // copy of the 26 MB image took half a second, a tenth of a whole boot.
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: image.initramfs), options: .alwaysMapped)
        } catch {
            throw FileError.unreadable(path: image.initramfs, reason: "\(error)")
        }
        try Files.write([bytes, additions], to: path)
        return path
    }
}
