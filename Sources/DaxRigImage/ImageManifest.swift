import Foundation

/// manifest.json next to a cached initramfs.cpio: what is in the image and where each
/// file came from, so that "which ndctl is in this guest?" has an answer without
/// unpacking it.
public struct ImageManifest: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var path: String
        /// "dir", "file", "symlink" or "chardev".
        public var kind: String
        /// Octal permission bits, "0755".
        public var mode: String
        /// Bytes of a file's contents (0 for anything else).
        public var size: Int
        /// The host file a file was copied from.
        public var source: String?
        /// A symlink's target, or a device's "major:minor".
        public var target: String?
    }

    public var key: String
    public var recipe: String
    /// The unstripped agent the image was built from, and the stripped size packed.
    public var agent: String
    public var agentSize: Int
    public var entries: [Entry]
    /// Sum of the files' sizes.
    public var fileBytes: Int
    /// Size of initramfs.cpio.
    public var totalSize: Int
    public var created: Date

    init(key: String, contents: ImageContents, members: [CpioEntry], agent: String, agentSize: Int, totalSize: Int) {
        let sources = Dictionary(contents.items.compactMap { item in
            (try? CpioArchive.normalize(item.entry.path)).map { ($0, item.source) }
        }, uniquingKeysWith: { first, _ in first })
        self.key = key
        recipe = contents.recipe.source
        self.agent = agent
        self.agentSize = agentSize
        entries = members.map { member in
            let octal = String(member.permissions, radix: 8)
            var entry = Entry(path: "/" + member.path, kind: "", mode: String(repeating: "0", count: max(0, 4 - octal.count)) + octal,
                              size: 0, source: sources[member.path] ?? nil, target: nil)
            switch member.kind {
            case .directory: entry.kind = "dir"
            case let .file(data): entry.kind = "file"; entry.size = data.count
            case let .symlink(target): entry.kind = "symlink"; entry.target = target
            case let .characterDevice(major, minor): entry.kind = "chardev"; entry.target = "\(major):\(minor)"
            }
            return entry
        }
        fileBytes = entries.reduce(0) { $0 + $1.size }
        self.totalSize = totalSize
        // Whole seconds, so the manifest read back from JSON equals the one returned.
        created = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
    }
}
