import Foundation
import Synchronization
import Testing
@testable import DaxRigSupport

/// Many commands at once, as a test process or a matrix runs them. Command read its
/// child's two pipes on libdispatch's global queue, whose threads on Linux number a
/// couple per CPU: with two CPUs, a few long commands (a kernel build) held every one
/// of them, and any other command's child filled its pipe and stopped until they were
/// done. In CI (2026-12-06) a `daxrig doctor` that validates its arguments and exits took
/// 130 s, and one over its time limit failed the run.
@Suite struct CommandConcurrencyTests {
    /// Sixteen children that each print more than a pipe holds and then wait for all
    /// the others to have printed theirs: every one gets there only if all are read at
    /// once. A child whose output nobody reads stops at its write; after 10 s at the
    /// barrier the others give up and exit 1. (On the global queue the last of them was
    /// read after 14 s here with eight, the pool growing by about a thread a second.)
    @Test(.timeLimit(.minutes(2))) func sixteenCommandsThatEachFillAPipeAreAllReadAtOnce() throws {
        let count = 16
        var template = Array("/tmp/daxrig-command-test-XXXXXXXX".utf8CString)
        let directory = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = """
            head -c 200000 /dev/zero | tr '\\0' x; echo; echo "to stderr" >&2
            touch "$1/$2"
            for _ in $(seq 100); do [ "$(ls "$1" | wc -l)" -ge \(count) ] && exit 0; sleep 0.1; done
            exit 1
            """
        let results = Mutex<[Int: Result<Command.Output, any Error>]>([:])
        let threads = (0..<count).map { index in
            Thread {
                let output = Result { try Command("sh", ["-c", script, "sh", directory, "\(index)"]).runAllowingFailure() }
                results.withLock { $0[index] = output }
            }
        }
        threads.forEach { $0.start() }
        while results.withLock({ $0.count }) < count { usleep(50_000) }
        for index in 0..<count {
            let output = try #require(results.withLock { $0[index] }).get()
            #expect(output.status == 0, "command \(index) did not see all \(count) print: its output was not read")
            #expect(output.standardOutput.count == 200_001)
            #expect(output.standardError == "to stderr\n")
        }
    }

    /// Input larger than a pipe, to a child that prints as much before it reads any:
    /// writing all the input first and reading after would wait on each other forever.
    @Test(.timeLimit(.minutes(1))) func inputAndOutputLargerThanAPipeFlowTogether() throws {
        let input = String(repeating: "0123456789abcdef\n", count: 20_000)
        let output = try Command("sh", ["-c", "head -c 300000 /dev/zero | tr '\\0' y; wc -c"]).run(input: input)
        #expect(output.standardOutput.hasPrefix(String(repeating: "y", count: 300_000)))
        #expect(output.standardOutput.hasSuffix("\(input.utf8.count)\n"))
    }

    /// A child that exits without reading its input: the rest is dropped, and the
    /// SIGPIPE of writing to it does not end this process (SIGPIPE keeps its default).
    @Test func inputToAChildThatDoesNotReadItIsDropped() throws {
        let output = try Command("sh", ["-c", "echo gone"]).run(input: String(repeating: "z", count: 1 << 20))
        #expect(output.standardOutput == "gone\n")
    }

    /// Lines reach `onLine` whole and in order, the last one without its newline too.
    @Test func linesArriveWholeAndInOrder() throws {
        let lines = Mutex<[String]>([])
        _ = try Command("sh", ["-c", "for i in $(seq 5000); do echo line $i; done; printf tail"]).runAllowingFailure { line, stream in
            if stream == .standardOutput { lines.withLock { $0.append(line) } }
        }
        let seen = lines.withLock { $0 }
        #expect(seen.count == 5001)
        #expect(seen.first == "line 1" && seen[4999] == "line 5000" && seen.last == "tail")
    }
}
