import Foundation
import Synchronization

/// The last few KiB a guest command printed, kept while the output streams past: a
/// workload that fails before its report says why in its last lines ("workload failed
/// at ..."), and a result with no report should carry that line, not only "status 1".
public final class OutputTail: Sendable {
    private let bytes = Mutex<[UInt8]>([])
    private let limit: Int

    public init(limit: Int = 8192) { self.limit = limit }

    public func append(_ data: Data) {
        bytes.withLock { kept in
            kept.append(contentsOf: data)
            if kept.count > limit { kept.removeFirst(kept.count - limit) }
        }
    }

    /// What is kept, as text.
    public var text: String { bytes.withLock { String(decoding: $0, as: UTF8.self) } }

    /// The last whole line that starts with `prefix`, if one is still kept.
    public func lastLine(startingWith prefix: String) -> String? {
        let text = bytes.withLock { String(decoding: $0, as: UTF8.self) }
        return text.split(separator: "\n").last { $0.hasPrefix(prefix) }.map(String.init)
    }
}
