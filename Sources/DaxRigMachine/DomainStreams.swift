import DaxRigProtocol
import DaxRigSupport
import Foundation

/// A booting domain's results channel as a libvirt stream (virDomainOpenChannel), on
/// this machine as on another host (issue 19): one way for the agent's session, its
/// template hand-off and `--shell`'s keystrokes, so the path a fleet's boots take is
/// the one every local boot and test takes too. On another host the serial console is
/// a stream as well (virDomainOpenConsole); here it is the file virtlogd writes
/// (`DomainSpec.Console`).
enum DomainStreams {
    /// Opens the started (paused) domain's channel, and its console when `consoleLog`
    /// is given, starts copying them into a socket and `consoleLog`, and lets the
    /// domain run unless `resume` is false (a guest that waits for gdb, whose
    /// `continue` starts it): nothing it prints is missed. Returns the agent's end of
    /// the socket and the pump, which the caller stops.
    static func attach(_ domain: LibvirtDomain, consoleLog: String?, resume: Bool = true) throws -> (AgentConnection, StreamPump) {
        var opened: [LibvirtStream] = []
        var descriptors: [Int32] = []
        let routes: [StreamPump.Route], agentEnd: Int32
        do {
            let channel = try LibvirtStream.channel(AgentMessage.channelName, of: domain)
            opened.append(channel)
            var console: StreamPump.Route?
            if let consoleLog {
                let stream = try LibvirtStream.console(of: domain)
                opened.append(stream)
                let log = open(consoleLog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                guard log >= 0 else { throw FileError.unwritable(path: consoleLog, reason: String(cString: strerror(errno))) }
                descriptors.append(log)
                console = .init(stream: stream, fd: log)
            }
            var pair: [Int32] = [-1, -1]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
                throw FileError.unwritable(path: "the agent's channel", reason: "socketpair: \(String(cString: strerror(errno)))")
            }
            // The pump's end never blocks it (StreamPump's flows).
            _ = fcntl(pair[1], F_SETFL, fcntl(pair[1], F_GETFL) | O_NONBLOCK)
            routes = (console.map { [$0] } ?? []) + [.init(stream: channel, fd: pair[1], toGuest: true)]
            agentEnd = pair[0]
        } catch {
            // Aborted, not just freed: libvirt keeps a freed stream registered (and the
            // channel held) until the connection closes.
            for stream in opened { stream.abort() }
            for fd in descriptors { close(fd) }
            throw error
        }
        // From here the pump owns the routes' descriptors and aborts their streams.
        let connection = domain.connection
        let pump = StreamPump(routes) { connection.isAlive }
        do {
            if resume { try domain.resume() }
        } catch {
            // A paused guest's streams never end by themselves: no wait for them.
            pump.stop(within: 0)
            close(agentEnd)
            throw error
        }
        return (AgentConnection(descriptor: agentEnd), pump)
    }
}
