import DaxRigProtocol
import Foundation
import Synchronization
import Testing
@testable import DaxRigMachine
@testable import DaxRigSupport

/// A guest that lies on its channel about its pmem being freshly formatted could make
/// the host keep, as every later boot's pmem, a file system it had already written
/// to. The host takes the offer once, and only before the pmem is mounted.
@Suite struct AgentSessionTemplateTests {
    /// Serves `messages` as the agent would on its channel (a socket pair, as the
    /// channel's stream pump gives the session), then closes.
    func session(_ messages: [AgentMessage]) throws -> (offers: Int, session: AgentSession) {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let console = directory.appendingPathComponent("console.log").path
        try Files.write("", to: console)
        var pair: [Int32] = [-1, -1]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        let lines = try messages.map { try $0.encodedLine() }.reduce(Data(), +)
        let guest = pair[1]
        let server = Thread {
            _ = lines.withUnsafeBytes { write(guest, $0.baseAddress!, $0.count) }
            usleep(200_000)
            close(guest)
        }
        server.start()
        let agent = AgentConnection(descriptor: pair[0])
        var clock = PhaseClock()
        let offers = Mutex(0)
        let session = AgentSession.read(agent, until: Date().addingTimeInterval(10), timeout: 10, watch: ConsoleWatch(path: console),
                                        clock: &clock, progress: SilentProgress(), formatted: { offers.withLock { $0 += 1 } }, output: { _, _ in })
        return (offers.withLock { $0 }, session)
    }

    @Test func anOfferBeforeTheMountIsTakenOnce() throws {
        let (offers, session) = try session([.started(uptime: 1, kernelRelease: "6.1"), .pmemFormatted, .pmemFormatted,
                                             .pmemReady(device: "/dev/pmem0", mountPoint: "/mnt/pmem", mountOptions: "dax"),
                                             .exited(status: 0, signal: nil, seconds: 0), .poweringOff])
        #expect(offers == 1)
        #expect(session.outcome == .commandExited(status: 0, signal: nil))
    }

    @Test func anOfferAfterTheMountOrBeforeTheAgentStartedIsRefused() throws {
        let late = try session([.started(uptime: 1, kernelRelease: "6.1"),
                                .pmemReady(device: "/dev/pmem0", mountPoint: "/mnt/pmem", mountOptions: "dax"), .pmemFormatted,
                                .exited(status: 0, signal: nil, seconds: 0), .poweringOff])
        #expect(late.offers == 0)
        let early = try session([.pmemFormatted, .started(uptime: 1, kernelRelease: "6.1"), .exited(status: 0, signal: nil, seconds: 0), .poweringOff])
        #expect(early.offers == 0)
    }
}
