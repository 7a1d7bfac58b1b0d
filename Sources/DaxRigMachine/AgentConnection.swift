import DaxRigProtocol
import Foundation

/// The host end of the agent's virtio-serial channel, AgentMessage lines read from a
/// socket the channel's stream is pumped into (DomainStreams).
public final class AgentConnection {
    private var fd: Int32 = -1
    private var lines = LineFramer()
    public private(set) var closed = false

    /// Reads an end of a socket something else fills: the channel stream's pump
    /// (`StreamPump`), or a test. The connection owns `descriptor` from now on.
    init(descriptor: Int32) {
        fd = descriptor
    }

    deinit { if fd >= 0 { close(fd) } }

    /// A second descriptor of the same socket, for a thread that talks to the agent
    /// while this one reads (the terminal's keystrokes); the caller closes it. Not
    /// inherited by children (makedumpfile, addr2line), which would hold it open.
    public func writer() -> AgentWriter { AgentWriter(fd: fcntl(fd, F_DUPFD_CLOEXEC, 0)) }

    /// One message to the agent from a writer of its own (`writer`), which any thread
    /// may do while this one reads; false once the agent's side is gone.
    public func send(_ message: HostMessage) -> Bool {
        let writer = writer()
        defer { writer.close() }
        return writer.send(message)
    }

    /// The next message, waiting at most until `deadline`; nil on timeout or when the
    /// guest closed the channel (see `closed`). A line that is not a message is
    /// returned as a `.failed` from stage "channel" so it is never silently lost.
    public func next(until deadline: Date) -> AgentMessage? {
        while true {
            switch lines.next() {
            case let .line(line)?:
                if line.isEmpty { continue }
                do {
                    return try AgentMessage.decode(line: line)
                } catch {
                    return .failed(stage: "channel", message: "unreadable line from the agent: \(String(decoding: line.prefix(200), as: UTF8.self))")
                }
            case let .tooLong(bytes)?:
                // Nothing after it can be trusted to be framed right: the channel is done.
                closed = true
                return .failed(stage: "channel", message: "the agent sent a line of more than \(bytes >> 20) MiB "
                    + "(the limit is \(lines.limit >> 20) MiB): a guest flooding its channel; the rest was dropped")
            case nil:
                break
            }
            if closed { return nil }
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { return nil }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(remaining, 0.25) * 1000) + 1)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { if Date() >= deadline { return nil } else { continue } }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = read(fd, &chunk, chunk.count)
            if count > 0 {
                lines.append(chunk[..<count])
            } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                closed = true
            }
        }
    }
}

/// The host's side of the channel's other direction: `HostMessage` lines to the agent.
public struct AgentWriter: Sendable {
    let fd: Int32

    /// False once the agent's side is gone (the guest powered off).
    @discardableResult
    public func send(_ message: HostMessage) -> Bool {
        guard fd >= 0, let line = try? message.encodedLine() else { return false }
        return line.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                // MSG_NOSIGNAL: a guest that is gone is `false` here, not a SIGPIPE that
                // kills daxrig with the terminal still raw.
                let count = Foundation.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if count < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return false
                }
                offset += count
            }
            return true
        }
    }

    public func close() { if fd >= 0 { _ = Foundation.close(fd) } }
}
