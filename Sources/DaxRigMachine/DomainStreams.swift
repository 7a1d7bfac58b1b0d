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
        let channel = try LibvirtStream.channel(AgentMessage.channelName, of: domain)
        var routes: [StreamPump.Route] = []
        if let consoleLog {
            let console = try LibvirtStream.console(of: domain)
            let log = open(consoleLog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard log >= 0 else { throw FileError.unwritable(path: consoleLog, reason: String(cString: strerror(errno))) }
            routes.append(.init(stream: console, fd: log))
        }
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            for route in routes { close(route.fd) }
            throw FileError.unwritable(path: "the agent's channel", reason: "socketpair: \(String(cString: strerror(errno)))")
        }
        // The pump's end never blocks it: a full socket is waited on in poll, and given
        // up once the pump is stopped (StreamPump.write).
        _ = fcntl(pair[1], F_SETFL, fcntl(pair[1], F_GETFL) | O_NONBLOCK)
        routes.append(.init(stream: channel, fd: pair[1], toGuest: true))
        let connection = domain.connection
        let pump = StreamPump(routes) { connection.isAlive }
        do {
            if resume { try domain.resume() }
        } catch {
            pump.stop()
            close(pair[0])
            throw error
        }
        return (AgentConnection(descriptor: pair[0]), pump)
    }
}
