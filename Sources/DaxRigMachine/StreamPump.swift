import Foundation
import Synchronization

/// What `StreamPump` needs of a stream: a libvirt stream in every boot, a fake in the
/// pump's own tests (which make it refuse, end and fail when they choose).
protocol GuestStream: Sendable {
    /// Up to `buffer.count` bytes from the guest, without waiting.
    func receive(into buffer: UnsafeMutableRawBufferPointer) -> StreamReceived
    /// Up to `bytes.count` bytes toward the guest, without waiting.
    func send(_ bytes: UnsafeRawBufferPointer) -> StreamSent
    /// Ends the stream from our side.
    func abort()
}

enum StreamReceived: Equatable { case bytes(Int), nothingYet, ended, failed(String) }

enum StreamSent: Equatable { case bytes(Int), notNow, failed(String) }

/// Copies a guest's console and channel streams into local descriptors as they come:
/// the console into the run's console.log, the channel into a socket whose other end
/// an `AgentConnection` reads; and what that connection's writers send (the template
/// hand-off, a terminal's keystrokes) back up the channel to the guest. Everything
/// around the streams is then the same for this machine and another host. One thread
/// polls all of it; a stream that ends has its descriptor shut for writing (its reader
/// sees the end), and the pump closes every descriptor when it is done.
final class StreamPump: Sendable {
    struct Route {
        var stream: any GuestStream
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
        /// How much of `down` the descriptor took: a partial write moves this, not the bytes.
        var downTaken = 0
        /// Host to guest still read; `up` is what the socket gave that the stream has not
        /// taken yet. Once the stream refuses or has ended, what writers send is read and
        /// dropped, so no writer blocks on a socket nobody empties.
        var upOpen: Bool
        var up: [UInt8] = []
        var upTaken = 0
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
        if flow.downTaken == flow.down.count {
            switch route.stream.receive(into: buffer) {
            case let .bytes(count):
                flow.down = Array(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                flow.downTaken = 0
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
        let put = flow.down.withUnsafeBytes { whole -> Int in
            let bytes = UnsafeRawBufferPointer(rebasing: whole[flow.downTaken...])
            let sent = send(route.fd, bytes.baseAddress!, bytes.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            // The console's file is no socket.
            return sent < 0 && errno == ENOTSOCK ? Glibc.write(route.fd, bytes.baseAddress!, bytes.count) : sent
        }
        if put > 0 {
            flow.downTaken += put
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
        if flow.upTaken == flow.up.count {
            let got = recv(route.fd, buffer.baseAddress!, buffer.count, Int32(MSG_DONTWAIT))
            if got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR) { flow.upOpen = false; return false }
            guard got > 0 else { return false }
            if flow.upDropping { return true }
            flow.up = Array(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
            flow.upTaken = 0
        }
        switch flow.up.withUnsafeBytes({ route.stream.send(UnsafeRawBufferPointer(rebasing: $0[flow.upTaken...])) }) {
        case let .bytes(count):
            flow.upTaken += count
            return true
        case .notNow:
            return false
        case .failed:
            // The guest's side is gone; its receiving half says why, if anything failed.
            flow.up = []
            flow.upTaken = 0
            flow.upDropping = true
            return false
        }
    }

    /// Ends a route's way down: its reader sees the end; what goes up is dropped from now.
    private func end(_ flow: inout Flow, _ route: Route) {
        flow.open = false
        flow.down = []
        flow.downTaken = 0
        flow.up = []
        flow.upTaken = 0
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
