import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigImage
@testable import DaxRigMachine

/// The agent channel against a guest that floods it (issue 14, item 6): a line of
/// 100 MB, bytes without end, lines cut anywhere. Bounded memory, linear time, a clear
/// end instead of a host that runs out of memory or spins.
@Suite struct LineFramerTests {
    func drain(_ framer: inout LineFramer) -> [LineFramer.Line] {
        var out: [LineFramer.Line] = []
        while let line = framer.next() { out.append(line) }
        return out
    }

    @Test func linesCutAnywhereComeOutWhole() {
        let text = Array("{\"a\":1}\n\n{\"b\":2}\npartial".utf8)
        for cut in 0...text.count {
            var framer = LineFramer()
            framer.append(text[..<cut])
            var lines = drain(&framer)
            framer.append(text[cut...])
            lines += drain(&framer)
            #expect(lines == [.line(Array("{\"a\":1}".utf8)), .line([]), .line(Array("{\"b\":2}".utf8))], "cut at \(cut)")
            #expect(framer.pending == "partial".utf8.count)
        }
    }

    @Test func aHundredMegabytesWithoutANewlineEndTheStreamInBoundedMemory() {
        // The default limit (64 MiB) in a release build; 4 MiB keeps a debug test quick.
        #expect(LineFramer.defaultLimit >= 16 << 20)
        var framer = LineFramer(limit: 4 << 20)
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 65_536)
        var result: LineFramer.Line?
        var sent = 0
        while sent < 100 << 20, result == nil {
            framer.append(chunk)
            sent += chunk.count
            result = framer.next()
            #expect(framer.pending <= framer.limit + chunk.count)
        }
        guard case let .tooLong(bytes)? = result else { Issue.record("no error after \(sent) bytes"); return }
        #expect(bytes > framer.limit && sent < 100 << 20)
        // Abandoned: what follows is not read as lines.
        framer.append(Array("{\"after\":1}\n".utf8))
        #expect(framer.next() == nil && framer.pending == 0)
    }

    @Test func manySmallLinesInOneHugeReadAreLinear() {
        // 200,000 lines in one buffer: removing each line from the front of an array
        // made this quadratic (minutes); scanning once takes about a second in debug.
        // Judged by this thread's CPU time, not the wall clock: under the full suite a
        // test waits for a thread for minutes (a wall-clock limit failed on CI's run).
        func cpuSeconds() -> Double {
            var now = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
            return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        }
        let started = cpuSeconds()
        defer { #expect(cpuSeconds() - started < 30, "\(cpuSeconds() - started) s of CPU") }
        let line = Array("{\"kind\":\"output\"}\n".utf8)
        var framer = LineFramer()
        framer.append(Array(repeating: line, count: 200_000).joined())
        var count = 0
        while case .line? = framer.next() { count += 1 }
        #expect(count == 200_000 && framer.pending == 0)
    }

    @Test func aLineAtTheLimitPassesAndOneByteMoreDoesNot() {
        var framer = LineFramer(limit: 8)
        framer.append(Array("12345678\n123456789\n".utf8))
        #expect(framer.next() == .line(Array("12345678".utf8)))
        #expect(framer.next() == .tooLong(bytes: 9))
        #expect(framer.next() == nil)
    }
}
