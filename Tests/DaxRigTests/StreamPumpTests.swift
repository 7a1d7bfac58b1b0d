import Foundation
import Synchronization
import Testing
@testable import DaxRigMachine

/// The pump between a guest's streams and the run's descriptors, against a stream that
/// does what libvirt's may: give a flood in pieces, take a send in parts or not yet,
/// refuse, fail, end, or lose its connection. What the real streams do in every boot
/// is in the integration tests; these make each of those happen when the test says.
/// No `.timeLimit`: it counts the time a test waits for a thread of the pool, which
/// integration tests can hold for minutes (a rehearsal on 2026-12-07 called one of
/// these past 60 s, its own waits being 10 s at most). Every wait here has a deadline,
/// and the sockets are non-blocking.
@Suite struct StreamPumpTests {
    /// A guest's stream, scripted: what the guest "sends" is queued in `incoming`.
    final class FakeStream: GuestStream {
        struct State {
            var incoming: [UInt8] = []
            var incomingTaken = 0
            var ended = false
            var failure: String?
            /// What reached the guest.
            var sent: [UInt8] = []
            /// At most this much per receive and per send: libvirt's pieces are its own.
            var piece = 4096
            var sendPiece = 700
            /// Every other send says "not now" when true.
            var hesitant = false
            var hesitated = false
            var refusing = false
            var aborted = false
        }
        let state: Mutex<State>

        init(_ state: State = State()) { self.state = Mutex(state) }

        func receive(into buffer: UnsafeMutableRawBufferPointer) -> StreamReceived {
            state.withLock { state in
                let left = state.incoming.count - state.incomingTaken
                if left > 0 {
                    let count = min(left, buffer.count, state.piece)
                    state.incoming.withUnsafeBytes { bytes in
                        buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + state.incomingTaken, byteCount: count)
                    }
                    state.incomingTaken += count
                    return .bytes(count)
                }
                if let failure = state.failure { return .failed(failure) }
                return state.ended ? .ended : .nothingYet
            }
        }

        func send(_ bytes: UnsafeRawBufferPointer) -> StreamSent {
            state.withLock { state in
                if state.refusing { return .failed("the guest's side is gone") }
                if state.hesitant {
                    state.hesitated.toggle()
                    if state.hesitated { return .notNow }
                }
                let count = min(bytes.count, state.sendPiece)
                state.sent += bytes.prefix(count)
                return .bytes(count)
            }
        }

        func abort() { state.withLock { $0.aborted = true } }
    }

    /// A socket pair: the pump's end (non-blocking, as DomainStreams makes it) and ours,
    /// with small buffers so a flood fills them and the pump's writes come out partial.
    func socketPair() throws -> (pump: Int32, ours: Int32) {
        var pair: [Int32] = [-1, -1]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0)
        var size: Int32 = 4096
        for fd in pair {
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        // Both ends non-blocking: a test's writer that a broken pump leaves blocked would
        // outlive its time limit, which cannot interrupt a system call.
        for fd in pair { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        return (pair[0], pair[1])
    }

    /// Everything `fd` gives until its end, read in small bites with pauses (a slow
    /// reader), or nil if it has not ended within `seconds`.
    func readToEnd(_ fd: Int32, bite: Int = 1000, pauseEvery: Int = 0, seconds: Double = 30) -> [UInt8]? {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: bite)
        let deadline = Date().addingTimeInterval(seconds)
        var reads = 0
        while Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            let got = read(fd, &buffer, bite)
            if got == 0 { return received }
            if got < 0, errno == EAGAIN || errno == EINTR { continue }
            guard got > 0 else { return nil }
            received += buffer[0..<got]
            reads += 1
            if pauseEvery > 0, reads % pauseEvery == 0 { usleep(2_000) }
        }
        return nil
    }

    func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) } }

    @Test func aFloodToASlowReaderArrivesWholeInOrderAndThenEnds() throws {
        let flood = pattern(3 << 20)
        let stream = FakeStream(.init(incoming: flood, ended: true, piece: 65_536))
        let (pumpEnd, ours) = try socketPair()
        defer { close(ours) }
        let pump = StreamPump([.init(stream: stream, fd: pumpEnd)]) { true }
        // Writes into a 4 KiB socket that a reader empties 1000 bytes at a time: the
        // pump's sends come out partial over and over, and must resume where they stopped.
        let received = readToEnd(ours, pauseEvery: 50)
        pump.stop()
        #expect(received?.count == flood.count)
        let firstDifference = received.flatMap { got in zip(got, flood).enumerated().first { $0.element.0 != $0.element.1 }?.offset }
        #expect(received.map { $0 == flood } == true, "bytes lost, repeated or reordered from byte \(firstDifference.map(String.init) ?? "?")")
        #expect(pump.failures.withLock { $0 }.isEmpty)
        #expect(stream.state.withLock { $0.aborted })
    }

    @Test func keystrokesGoUpWhileTheGuestsOutputWaitsForItsReader() throws {
        // The guest prints without end, and nobody reads it yet: the keystrokes still go up.
        let stream = FakeStream(.init(incoming: pattern(1 << 20), piece: 65_536, hesitant: true))
        let (pumpEnd, ours) = try socketPair()
        defer { close(ours) }
        let pump = StreamPump([.init(stream: stream, fd: pumpEnd, toGuest: true)]) { true }
        defer { stream.state.withLock { $0.ended = true }; pump.stop(within: 0) }
        let keys = Array("ls -l /mnt/pmem\n".utf8) + pattern(20_000)
        var written = 0
        let deadline = Date().addingTimeInterval(10)
        while written < keys.count, Date() < deadline {
            let put = keys.withUnsafeBytes { write(ours, $0.baseAddress! + written, min(1500, keys.count - written)) }
            if put > 0 { written += put } else { usleep(1_000) }
        }
        #expect(written == keys.count, "the writer blocked behind the guest's unread output")
        while stream.state.withLock({ $0.sent.count }) < keys.count, Date() < deadline { usleep(5_000) }
        // Taken 700 bytes a send, with a "not now" before every other one: each resumed where it stopped.
        let sent = stream.state.withLock { $0.sent }
        #expect(sent.count == keys.count)
        #expect(sent == keys ? true : false, "keystrokes lost, repeated or reordered")
    }

    @Test func aStreamThatRefusesLetsWritersGoOnAndDropsWhatTheySend() throws {
        let stream = FakeStream(.init(refusing: true))
        let (pumpEnd, ours) = try socketPair()
        defer { close(ours) }
        let pump = StreamPump([.init(stream: stream, fd: pumpEnd, toGuest: true)]) { true }
        // Far more than the socket holds: a writer nobody drained would block at 8 KiB.
        let chunk = [UInt8](repeating: 0x41, count: 1000)
        var written = 0
        let deadline = Date().addingTimeInterval(10)
        while written < 2 << 20, Date() < deadline {
            let put = chunk.withUnsafeBytes { write(ours, $0.baseAddress!, $0.count) }
            if put > 0 { written += put } else { usleep(1_000) }
        }
        #expect(written >= 2 << 20, "a writer blocked on a stream that refused")
        #expect(stream.state.withLock { $0.sent }.isEmpty)
        stream.state.withLock { $0.ended = true }
        #expect(readToEnd(ours, seconds: 10) == [])
        pump.stop()
    }

    @Test func aStreamThatFailsIsNamedAndItsReaderSeesTheEnd() throws {
        let stream = FakeStream(.init(incoming: Array("half a line".utf8), failure: "read channel org.daxrig.agent.0: I/O error"))
        let (pumpEnd, ours) = try socketPair()
        defer { close(ours) }
        let pump = StreamPump([.init(stream: stream, fd: pumpEnd, toGuest: true)]) { true }
        #expect(readToEnd(ours, seconds: 10) == Array("half a line".utf8))
        pump.stop()
        #expect(pump.failures.withLock { $0 } == ["read channel org.daxrig.agent.0: I/O error"])
    }

    @Test func aConnectionThatDiedEndsEveryStreamThatNeverSaysSo() throws {
        // Neither stream ever ends by itself, as a stream of a host that vanished may not.
        let console = FakeStream(.init(incoming: Array("[    0.000000] Linux version\n".utf8)))
        let channel = FakeStream()
        let (consoleEnd, consoleOurs) = try socketPair()
        let (channelEnd, channelOurs) = try socketPair()
        defer { close(consoleOurs); close(channelOurs) }
        let alive = Mutex(true)
        let pump = StreamPump([.init(stream: console, fd: consoleEnd), .init(stream: channel, fd: channelEnd, toGuest: true)]) {
            alive.withLock { $0 }
        }
        var first = [UInt8](repeating: 0, count: 64)
        var poller = pollfd(fd: consoleOurs, events: Int16(POLLIN), revents: 0)
        #expect(poll(&poller, 1, 5_000) == 1)
        let got = read(consoleOurs, &first, first.count)
        #expect(got > 0)
        alive.withLock { $0 = false }
        // Within about a second the pump asks, and ends both.
        #expect(readToEnd(consoleOurs, seconds: 5) != nil)
        #expect(readToEnd(channelOurs, seconds: 5) == [])
        pump.stop()
        #expect(pump.failures.withLock { $0 }.contains("the connection to the host was lost"))
    }
}
