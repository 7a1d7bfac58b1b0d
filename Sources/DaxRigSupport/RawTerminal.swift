import Foundation

/// The user's terminal in raw mode for `daxrig boot --shell`: every byte typed goes to
/// the guest as it is typed (Ctrl-C and Ctrl-D included: the guest's shell handles
/// them), nothing is echoed here (the guest's pty echoes). The saved mode comes back on
/// every way out: `restore()`, and Ctrl-C, SIGTERM or an error through `Cleanup`.
public final class RawTerminal: Sendable {
    public let fd: Int32
    private let cleanup: Int

    /// nil when `fd` is not a terminal.
    public init?(fd: Int32 = STDIN_FILENO) {
        var mode = termios()
        guard isatty(fd) == 1, tcgetattr(fd, &mode) == 0 else { return nil }
        self.fd = fd
        let restoreMode = mode
        cleanup = Cleanup.shared.add("restore the terminal's mode") {
            var original = restoreMode
            _ = tcsetattr(fd, TCSAFLUSH, &original)
        }
        // cfmakeraw's flags (it is a _DEFAULT_SOURCE function Swift does not import).
        mode.c_iflag &= ~tcflag_t(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON)
        mode.c_oflag &= ~tcflag_t(OPOST)
        mode.c_lflag &= ~tcflag_t(ECHO | ECHONL | ICANON | ISIG | IEXTEN)
        mode.c_cflag &= ~tcflag_t(CSIZE | PARENB)
        mode.c_cflag |= tcflag_t(CS8)
        _ = tcsetattr(fd, TCSAFLUSH, &mode)
    }

    public func restore() { Cleanup.shared.run(cleanup) }
}
