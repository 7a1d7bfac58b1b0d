import CLibvirt
import DaxRigSupport
import Foundation
import Synchronization

/// libvirt's default event loop, run on a thread of its own. A non-blocking stream
/// receives nothing without it (tried: a console stream stayed empty for 60 s of a
/// guest that printed 20 KB), and a connection uses it only when it is registered
/// before the connection opens. Started by the first boot (every boot reads streams);
/// connections that read none (doctor, capacity) gain nothing from it.
enum LibvirtEventLoop {
    static let started: Void = {
        virEventRegisterDefaultImpl()
        let thread = Thread {
            blockSIGPIPE()
            while true { _ = virEventRunDefaultImpl() }
        }
        thread.name = "libvirt-events"
        thread.start()
    }()
}

/// SIGPIPE held off the calling thread: libvirt's client writes its sockets with plain
/// write(2), and a host that goes away mid-write must be an error, not daxrig's death.
/// Per thread: children spawned elsewhere keep the default.
func blockSIGPIPE() {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGPIPE)
    pthread_sigmask(SIG_BLOCK, &set, nil)
}

/// A guest's character device as a libvirt stream: its serial console
/// (virDomainOpenConsole) or a virtio-serial channel (virDomainOpenChannel), over the
/// connection's own transport, so it reads the same from any host. Non-blocking.
final class LibvirtStream: @unchecked Sendable {
    let pointer: virStreamPtr
    let what: String

    private init(connection: LibvirtConnection, what: String) throws {
        guard let pointer = virStreamNew(connection.pointer, UInt32(VIR_STREAM_NONBLOCK.rawValue)) else {
            throw LibvirtError.last("open a stream to \(connection.uri) for \(what)")
        }
        self.pointer = pointer
        self.what = what
    }

    deinit { virStreamFree(pointer) }

    /// The domain's first serial port.
    static func console(of domain: LibvirtDomain) throws -> LibvirtStream {
        let stream = try LibvirtStream(connection: domain.connection, what: "the console of \(domain.name)")
        guard virDomainOpenConsole(domain.pointer, nil, stream.pointer, UInt32(VIR_DOMAIN_CONSOLE_FORCE.rawValue)) == 0 else {
            throw LibvirtError.last("open \(stream.what)")
        }
        return stream
    }

    /// The domain's virtio-serial channel `name`.
    static func channel(_ name: String, of domain: LibvirtDomain) throws -> LibvirtStream {
        let stream = try LibvirtStream(connection: domain.connection, what: "channel \(name) of \(domain.name)")
        guard virDomainOpenChannel(domain.pointer, name, stream.pointer, UInt32(VIR_DOMAIN_CHANNEL_FORCE.rawValue)) == 0 else {
            throw LibvirtError.last("open \(stream.what)")
        }
        return stream
    }

    enum Received: Equatable { case bytes(Int), nothingYet, ended, failed(String) }

    func receive(into buffer: UnsafeMutableRawBufferPointer) -> Received {
        let got = virStreamRecv(pointer, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), buffer.count)
        switch got {
        case 0: return .ended
        case -2: return .nothingYet
        case ..<0: return .failed(LibvirtError.last("read \(what)").message)
        default: return .bytes(Int(got))
        }
    }

    enum Sent: Equatable { case bytes(Int), notNow, failed(String) }

    /// Up to `bytes.count` bytes toward the guest. Through libvirt's remote driver
    /// (every URI daxrig opens, qemu:///system too) a send is queued whole or fails;
    /// `.notNow` (a non-blocking stream with a full buffer, -2) is handled for drivers
    /// that can say it.
    func send(_ bytes: UnsafeRawBufferPointer) -> Sent {
        let put = virStreamSend(pointer, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), bytes.count)
        switch put {
        case -2: return .notNow
        case ..<0: return .failed(LibvirtError.last("write \(what)").message)
        default: return .bytes(Int(put))
        }
    }

    /// Ends the stream from our side; what the guest still had to say is dropped.
    func abort() { _ = virStreamAbort(pointer) }
}

/// Copies a guest's console and channel streams into local descriptors as they come:
/// the console into the run's console.log, the channel into a socket whose other end
/// an `AgentConnection` reads; and what that connection's writers send (the template
/// hand-off, a terminal's keystrokes) back up the channel to the guest. Everything
/// around the streams is then the same for this machine and another host. One thread
/// polls all of it; a stream that ends has its descriptor shut for writing (its reader
/// sees the end), and the pump closes every descriptor when it is done.
final class StreamPump: Sendable {
    struct Route {
        var stream: LibvirtStream
        var fd: Int32
        /// Also carries what is written to `fd`'s other end to the guest.
        var toGuest = false
    }

    private let routes: [Route]
    private let stopped = Mutex(false)
    private let stopCalled = Mutex(false)
    private let done = DispatchSemaphore(value: 0)
    /// Why a stream failed (not ended): the run's infrastructure note.
    let failures = Mutex<[String]>([])

    private let alive: @Sendable () -> Bool

    /// `alive` is asked about once a second: a connection that died ends every stream
    /// (its streams may never say so themselves) with a failure.
    init(_ routes: [Route], alive: @escaping @Sendable () -> Bool) {
        self.routes = routes
        self.alive = alive
        let thread = Thread { [self] in pump() }
        thread.name = "stream-pump"
        thread.start()
    }

    /// A route's state on the pump's thread. Neither direction ever waits for the
    /// other: a reader that is slow to take the guest's output (a terminal scrolling a
    /// flood) holds up that output only, not the keystrokes going up.
    private struct Flow {
        /// Guest to host still carried; `down` is what the stream gave that the
        /// descriptor has not taken yet (nothing more is received until it has).
        var open = true
        var down: [UInt8] = []
        /// Host to guest still read; `up` is what the socket gave that the stream has not
        /// taken yet. Once the stream refuses or has ended, what writers send is read and
        /// dropped, so no writer blocks on a socket nobody empties.
        var upOpen: Bool
        var up: [UInt8] = []
        var upDropping = false
    }

    private func pump() {
        blockSIGPIPE()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        var flows = routes.map { Flow(upOpen: $0.toGuest) }
        var moved = true
        var lastCheck = Date()
        // Once stopped, on until a pass moves nothing: what was delivered is kept, and a
        // reader that stopped reading (a run that ended) leaves its bytes behind.
        while flows.contains(where: \.open), moved || !stopped.withLock({ $0 }) {
            moved = false
            for (index, route) in routes.enumerated() {
                moved = down(route, &flows[index], buffer) || moved
                if flows[index].upOpen { moved = up(route, &flows[index], buffer) || moved }
            }
            if !moved { usleep(5_000) }
            if Date().timeIntervalSince(lastCheck) >= 1 {
                lastCheck = Date()
                if !alive() {
                    failures.withLock { $0.append("the connection to the host was lost") }
                    for index in flows.indices where flows[index].open { end(&flows[index], routes[index]) }
                }
            }
        }
        for route in routes { close(route.fd) }
        done.signal()
    }

    /// Guest to host: what the stream has, once the descriptor took the last of it;
    /// true if anything moved.
    private func down(_ route: Route, _ flow: inout Flow, _ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard flow.open else { return false }
        var moved = false
        if flow.down.isEmpty {
            switch route.stream.receive(into: buffer) {
            case let .bytes(count):
                flow.down = Array(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                moved = true
            case .nothingYet:
                return false
            case .ended:
                end(&flow, route)
                return false
            case let .failed(message):
                failures.withLock { $0.append(message) }
                end(&flow, route)
                return false
            }
        }
        let put = flow.down.withUnsafeBytes { bytes -> Int in
            let sent = send(route.fd, bytes.baseAddress!, bytes.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            // The console's file is no socket.
            return sent < 0 && errno == ENOTSOCK ? Glibc.write(route.fd, bytes.baseAddress!, bytes.count) : sent
        }
        if put > 0 {
            flow.down.removeFirst(put)
            return true
        }
        if put < 0 && (errno == EAGAIN || errno == EINTR) { return moved }
        // Nobody reads any more (the run ended): stop copying this one.
        end(&flow, route)
        return moved
    }

    /// Host to guest: what the socket has, once the stream took the last of it; true
    /// if anything moved. The writers closing their ends (recv's 0) ends this direction.
    private func up(_ route: Route, _ flow: inout Flow, _ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        if flow.up.isEmpty {
            let got = recv(route.fd, buffer.baseAddress!, buffer.count, Int32(MSG_DONTWAIT))
            if got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR) { flow.upOpen = false; return false }
            guard got > 0 else { return false }
            if flow.upDropping { return true }
            flow.up = Array(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
        }
        switch flow.up.withUnsafeBytes({ route.stream.send($0) }) {
        case let .bytes(count):
            flow.up.removeFirst(count)
            return true
        case .notNow:
            return false
        case .failed:
            // The guest's side is gone; its receiving half says why, if anything failed.
            flow.up = []
            flow.upDropping = true
            return false
        }
    }

    /// Ends a route's way down: its reader sees the end; what goes up is dropped from now.
    private func end(_ flow: inout Flow, _ route: Route) {
        flow.open = false
        flow.down = []
        flow.up = []
        flow.upDropping = true
        shutdown(route.fd, Int32(SHUT_WR))
    }

    /// Called once the domain is gone: waits up to `seconds` for every stream to end
    /// (the guest's last console lines, its power-off, may still be on their way), then
    /// stops copying after what has arrived, and waits for the thread. The pump closes
    /// the descriptors.
    func stop(within seconds: Double = 5) {
        // Once: the thread signals its end once.
        guard stopCalled.withLock({ called in defer { called = true }; return !called }) else { return }
        if done.wait(timeout: .now() + seconds) == .timedOut {
            stopped.withLock { $0 = true }
            done.wait()
        }
        for route in routes { route.stream.abort() }
    }
}
