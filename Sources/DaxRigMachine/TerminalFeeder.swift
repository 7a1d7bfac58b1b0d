import DaxRigProtocol
import Foundation
import Synchronization

/// The host's half of `daxrig boot --shell`: keystrokes from a terminal (in raw mode,
/// so Ctrl-C and Ctrl-D are bytes for the guest's shell, not signals for daxrig) go
/// to the agent as `input` lines, and the terminal's size as `resize` whenever it
/// changes; polled, so no SIGWINCH handler has to be shared with the rest of daxrig.
public final class TerminalFeeder: Sendable {
    private let stopped = Mutex(false)
    private let finished = Mutex(false)

    /// Ctrl-]: the escape telnet and virsh console use.
    public static let escape: UInt8 = 0x1D

    /// Starts feeding `input` (a descriptor, usually stdin) to the agent through `writer`.
    public init(input: Int32, writer: AgentWriter) {
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            var size = Self.size(of: input)
            // The size the plan carried may be older than the window by now.
            if let size { writer.send(.resize(rows: size.rows, columns: size.columns)) }
            while !stopped.withLock({ $0 }) {
                var poller = pollfd(fd: input, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, 100)
                if let now = Self.size(of: input), now.rows != size?.rows || now.columns != size?.columns {
                    size = now
                    writer.send(.resize(rows: now.rows, columns: now.columns))
                }
                if ready < 0 && errno == EINTR { continue }
                if ready <= 0 { continue }
                let count = read(input, &buffer, buffer.count)
                // End of input (a closed pipe, a hung-up terminal): nothing more to send.
                if count <= 0 { if count < 0 && errno == EINTR { continue } else { break } }
                // Ctrl-] is daxrig's, not the guest's: the way out of a guest that hangs,
                // through SIGTERM's cleanup (domain destroyed, terminal restored, 143).
                if buffer[0..<count].contains(Self.escape) {
                    kill(getpid(), SIGTERM)
                    break
                }
                if !writer.send(.input(Data(buffer[0..<count]))) { break }
            }
            writer.close()
            finished.withLock { $0 = true }
        }
        thread.name = "daxrig terminal input"
        thread.start()
    }

    /// Stops feeding and waits (briefly) for the thread, which polls every 0.1 s.
    public func stop() {
        stopped.withLock { $0 = true }
        let deadline = Date().addingTimeInterval(1)
        while !finished.withLock({ $0 }) && Date() < deadline { usleep(10_000) }
    }

    /// The terminal's size, nil when `fd` is not a terminal.
    public static func size(of fd: Int32) -> (rows: UInt16, columns: UInt16)? {
        var size = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0 else { return nil }
        return (size.ws_row, size.ws_col)
    }
}
