import Foundation
import DaxRigSupport

/// Remembers which cached image a recipe and agent built last, with the size, mtime
/// and inode of every host file that went in. While none of them changed, the image
/// is found without stripping the agent and hashing 26 MB: each boot pays a stat per
/// file instead.
struct ImageMemo {
    let path: String
    let agent: String

    init(cache: Cache, recipe: ImageRecipe, agent: String) {
        self.agent = agent
        path = cache.images.appendingPathComponent(".memo-" + ContentHash.of(recipe.text + "\0" + agent).prefix(24)).path
    }

    private struct Record: Codable {
        var key: String
        var stamps: [String: String]
    }

    /// The remembered image key, if every file it came from is unchanged.
    func validKey() -> String? {
        guard let data = FileManager.default.contents(atPath: path),
              let record = try? JSONDecoder().decode(Record.self, from: data),
              !record.stamps.isEmpty,
              record.stamps.allSatisfy({ Self.stamp($0.key) == $0.value }) else { return nil }
        return record.key
    }

    func record(_ image: GuestImage) {
        let sources = [agent] + image.manifest.entries.compactMap(\.source)
        var stamps: [String: String] = [:]
        for source in sources {
            guard let stamp = Self.stamp(source) else { return }
            stamps[source] = stamp
        }
        if let data = try? JSONEncoder().encode(Record(key: image.key, stamps: stamps)) {
            try? Files.write(data, to: path)
        }
    }

    static func stamp(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return "\(st.st_size)|\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)|\(st.st_ino)"
    }
}
