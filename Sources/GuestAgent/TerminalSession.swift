import DaxRigProtocol
import FoundationEssentials
import GuestCore
import Glibc

/// `daxrig boot --shell` in the guest: the plan's command runs on a pty, as the session
/// leader with the pty as its controlling terminal (so job control, Ctrl-C and the
/// shell's line editing work), and its bytes go both ways over the agent's channel:
/// out as `output` messages, in as the host's `input` lines.
enum TerminalSession {
    static func run(_ argv: [String], spec: TerminalSpec, environment: [String: String], directory: String,
                    channel: Channel) throws -> (Termination, Double) {
        try mountDevpts()
        // posix_openpt, unlockpt and ptsname are behind _XOPEN_SOURCE, which Swift's
        // Glibc module does not import; they are these two ioctls on /dev/ptmx.
        // Non-blocking: PID 1 must never wait on the pty. Keys the shell does not read
        // yet (a paste larger than the pty's buffer) queue here, not in a write that
        // would stop PID 1 reading the shell's output, and with it both sides.
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)
        var unlock: Int32 = 0, number: UInt32 = 0
        guard master >= 0, ioctl(master, tiocsptlck, &unlock) == 0, ioctl(master, tiocgptn, &number) == 0 else {
            throw AgentFailure("terminal", "no pseudo-terminal (/dev/ptmx on devpts): \(errnoText())")
        }
        defer { close(master) }
        let name = "/dev/pts/\(number)"
        resize(master, rows: spec.rows, columns: spec.columns)
        guard let program = argv.first, let executable = ChildProcess.resolve(program, path: environment["PATH"] ?? ChildProcess.defaultPath) else {
            throw AgentFailure("terminal", "\(argv.first ?? "") not found in the image")
        }
        let started = Clock.now()
        let pid = try ChildProcess.spawn(executable, argv, environment: environment,
                                         stdio: .terminal(path: name, directory: directory))
        var termination: Termination?
        var ended = 0.0
        var masterOpen = true
        var pending: [UInt8] = []
        var keys: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            ChildProcess.reapAll { reaped, status in
                if reaped == pid, let done = Termination(waitStatus: status) {
                    termination = done
                    ended = Clock.now()
                }
            }
            // The shell is gone and its last output read (the pty gives EIO once no one
            // holds its other end), or a background job keeps it open: a quiet moment.
            if termination != nil && (!masterOpen || Clock.now() - ended > 0.5) { break }
            // A closed master still says POLLHUP at once: leave it out of the poll.
            var pollers = [pollfd(fd: masterOpen ? master : -1, events: Int16(POLLIN) | (keys.isEmpty ? 0 : Int16(POLLOUT)), revents: 0),
                           pollfd(fd: channel.fileDescriptor, events: Int16(POLLIN), revents: 0)]
            if poll(&pollers, 2, 50) <= 0 { continue }
            if pollers[0].revents & Int16(POLLOUT) != 0 && !keys.isEmpty {
                let count = keys.withUnsafeBytes { write(master, $0.baseAddress!, $0.count) }
                if count > 0 { keys.removeFirst(count) }
            }
            if pollers[0].revents & ~Int16(POLLOUT) != 0 {
                let count = read(master, &buffer, buffer.count)
                if count > 0 {
                    channel.send(.output(stream: .stdout, data: Data(buffer[0..<count])))
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    masterOpen = false
                }
            }
            if pollers[1].revents & Int16(POLLIN) != 0 {
                let count = read(channel.fileDescriptor, &buffer, buffer.count)
                if count > 0 { pending += buffer[0..<count] }
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending[..<newline]
                    pending.removeSubrange(...newline)
                    switch try? HostMessage.decode(line: line) {
                    case let .input(data):
                        keys += data
                    case let .resize(rows, columns):
                        resize(master, rows: rows, columns: columns)
                    case .proceed, .plan:
                        break  // the pmem template's answer (a shell boot asks none); the plan came first
                    case nil:
                        channel.send(.step(name: "terminal", detail: "not a host message: \(String(decoding: line.prefix(80), as: UTF8.self))", seconds: 0))
                    }
                }
            } else if pollers[1].revents & Int16(POLLHUP) != 0 {
                // The host side is not connected (yet): poll says so at once, every time.
                Clock.sleep(seconds: 0.05)
            }
        }
        return (termination ?? .exited(0), ended - started)
    }

    /// <asm-generic/ioctls.h>: _IOW('T', 0x31, int) and _IOR('T', 0x30, unsigned int).
    static let tiocsptlck: UInt = 0x4004_5431
    static let tiocgptn: UInt = 0x8004_5430

    /// devpts at /dev/pts, where /dev/ptmx finds its instance.
    static func mountDevpts() throws {
        if FileIO.exists("/dev/pts/ptmx") { return }
        try FileIO.makeDirectories("/dev/pts")
        guard mount("devpts", "/dev/pts", "devpts", UInt(MS_NOSUID | MS_NOEXEC), "mode=0620,ptmxmode=0666") == 0 else {
            throw AgentFailure("terminal", "mount devpts on /dev/pts: \(errnoText())")
        }
    }

    static func resize(_ master: Int32, rows: UInt16, columns: UInt16) {
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
    }

}
