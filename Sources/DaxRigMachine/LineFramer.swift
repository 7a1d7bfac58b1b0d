/// Cuts the agent channel's byte stream into lines, in bounded memory and linear time,
/// whatever the guest sends. A guest is not trusted to be well behaved: it may send a
/// line of 100 MB, or bytes without end and no newline. Each byte is scanned once (a
/// search from the buffer's start on every read made a long line quadratic), and a
/// line longer than `limit` is an error, not a buffer that grows until the host runs
/// out of memory.
public struct LineFramer {
    /// Longer than any report the agent sends: a 10,000-process workload's report is
    /// about 3 MB of JSON.
    public static let defaultLimit = 64 << 20

    public enum Line: Equatable {
        case line([UInt8])
        case tooLong(bytes: Int)
    }

    public let limit: Int
    private var buffer: [UInt8] = []
    /// Where the unread part of `buffer` starts, and how far it has been searched.
    private var head = 0
    private var scanned = 0
    private(set) var overflowed = false

    public init(limit: Int = LineFramer.defaultLimit) { self.limit = limit }

    /// Bytes held and not yet returned as lines.
    public var pending: Int { buffer.count - head }

    public mutating func append<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        guard !overflowed else { return }
        // Drop what was returned before growing: the buffer holds one partial line at most.
        if head > 0, head >= buffer.count / 2 {
            buffer.removeSubrange(..<head)
            scanned -= head
            head = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete line (without its newline), nil when none is complete yet.
    /// Once a line passes the limit, the stream is abandoned: `tooLong`, then nothing.
    public mutating func next() -> Line? {
        guard !overflowed else { return nil }
        if let newline = buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = Array(buffer[head..<newline])
            head = newline + 1
            scanned = head
            guard line.count <= limit else { return abandon(line.count) }
            return .line(line)
        }
        scanned = buffer.count
        if pending > limit { return abandon(pending) }
        return nil
    }

    private mutating func abandon(_ bytes: Int) -> Line {
        overflowed = true
        buffer = []
        head = 0
        scanned = 0
        return .tooLong(bytes: bytes)
    }
}
