import DaxRigSupport
import Foundation
import Synchronization

/// Other hosts' KVM verdicts, kept in the cache (accelerator-hosts.json) by URI, and the
/// hosts this process could not get an answer from. Each entry is read on its own: one
/// that a newer or broken daxrig wrote costs that host a new try, not every host its
/// verdict. Writers re-read the file under a lock, so daxrigs deciding different hosts
/// at once keep each other's verdicts.
enum RemoteVerdicts {
    typealias Memo = AcceleratorMemo<RemoteHostFingerprint>

    /// How long a verdict holds at most. libvirt shows daxrig nothing of a host's boot,
    /// so a verdict cannot end with it as this machine's does; a day bounds how long
    /// one bad try (a host too loaded to boot the probe in time) keeps a KVM host on TCG.
    static let lifetime: Double = 86_400

    static func path(_ cache: Cache) -> String { cache.root.appendingPathComponent("accelerator-hosts.json").path }

    static func remembered(cache: Cache) -> [String: Memo] {
        guard let data = FileManager.default.contents(atPath: path(cache)),
              let entries = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return [:] }
        var memos: [String: Memo] = [:]
        for (uri, entry) in entries {
            guard let json = try? JSONSerialization.data(withJSONObject: entry),
                  let memo = try? JSONCoding.decoder.decode(Memo.self, from: json) else { continue }
            memos[uri] = memo
        }
        return memos
    }

    /// Keeps `memo` as `uri`'s verdict (nil: forgets it), the other hosts' as they are now.
    static func remember(_ memo: Memo?, for uri: String, cache: Cache) {
        let lock = try? cache.lock("accelerator-hosts")
        defer { lock?.release() }
        var memos = remembered(cache: cache)
        memos[uri] = memo
        if let data = try? JSONCoding.encoder.encode(memos) { try? Files.write(data, to: path(cache)) }
    }

    private static let silent = Mutex<Set<String>>([])

    /// Whether this process's try of `uri` could not tell: it is not tried again.
    static func unanswered(_ uri: String) -> Bool { silent.withLock { $0.contains(uri) } }

    static func markUnanswered(_ uri: String) { silent.withLock { _ = $0.insert(uri) } }
}
