@testable import DaxRig
import Foundation
import Testing
@testable import DaxRigSupport

/// What a child of daxrig inherits. Foundation's Process starts it with the spawning
/// thread's signal mask, and in daxrig (as in this test process) that mask blocks
/// SIGINT and SIGTERM. ProcessGroup.stop's SIGTERM then never reached make or git: they
/// ran on for the whole grace until the SIGKILL, and a git killed so left its
/// index.lock in daxrig's work tree (CI, 2026-12-03: the resumed bisect exited 3 on it).
@Suite struct CommandSignalTests {
    static func blockedSignals(_ status: String) -> Set<Int32> {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigBlk:") }),
              let mask = UInt64(line.split(separator: "\t").last ?? "", radix: 16) else { return [] }
        return Set((1...64).filter { mask & (1 << UInt64($0 - 1)) != 0 }.map(Int32.init))
    }

    @Test func childrenStartWithTheSignalsThatStopThemUnblocked() throws {
        let status = try Command("cat", ["/proc/self/status"]).run().standardOutput
        let blocked = Self.blockedSignals(status)
        #expect(blocked.isDisjoint(with: [SIGHUP, SIGINT, SIGQUIT, SIGTERM]), "blocked in the child: \(blocked.sorted())")
    }

    @Test func aStoppedChildEndsAtTheSIGTERMNotTheSIGKILL() throws {
        let started = Date()
        let result = try Cleanup.shared.started({ "stop \($0)" }, start: {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sleep")
            process.arguments = ["30"]
            try Command.spawn(process)
            return process.processIdentifier
        }, stop: { _ = ProcessGroup.stop($0) })
        Cleanup.shared.run(result)
        // The grace before the SIGKILL is 5 s; a SIGTERM that arrives ends sleep at once.
        #expect(Date().timeIntervalSince(started) < 4)
    }
}
