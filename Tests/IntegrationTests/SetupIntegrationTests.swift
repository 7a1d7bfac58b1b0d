import DaxRig
import Foundation
import Testing
import DaxRigSupport

/// scripts/setup.sh as a real Debian 12 runs it (issue 14, item 12): there python3 is
/// Debian's, externally managed (PEP 668), and `pip install` into it fails, which
/// stopped setup before it finished. Run with only the system's directories on PATH
/// and a cache of its own, setup makes its virtual environment with the pinned report
/// consumers, and a second run finds it and installs nothing.
@Suite(.timed) struct SetupIntegrationTests {
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/lib/python3.11/EXTERNALLY-MANAGED"), "Debian's python3 is externally managed here"))
    func setupInstallsTheReportConsumersBesideAnExternallyManagedPython() throws {
        let cache = try Rig.scratch("setup")
        defer { try? FileManager.default.removeItem(at: cache) }
        let environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DAXRIG_CACHE": cache.path, "HOME": cache.path]
        // What main's setup did: pip into the system python, refused.
        let refused = try Command("/usr/bin/python3", ["-m", "pip", "install", "--quiet", "junitparser"], environment: environment).runAllowingFailure()
        #expect(refused.status != 0)
        let setup = Rig.packageRoot.appendingPathComponent("scripts/setup.sh").path
        let first = try Command("/bin/bash", [setup], environment: environment).runAllowingFailure()
        #expect(first.status == 0, "\(first.standardOutput.suffix(1000))\(first.standardError.suffix(2000))")
        #expect(first.standardOutput.contains("junitparser==5.0.3 kcidb-io==141"))
        let python = cache.appendingPathComponent("python/bin/python3").path
        let versions = try Command(python, ["-c", "import importlib.metadata as m; print(m.version('junitparser'), m.version('kcidb-io'))"]).run()
        #expect(versions.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "5.0.3 141")
        let again = try Command("/bin/bash", [setup], environment: environment).runAllowingFailure()
        #expect(again.status == 0 && !again.standardOutput.contains("installing"), "\(again.standardOutput)")
    }

    /// Setup starts virtlogd and libvirtd only when they do not run. A daemon that died
    /// unreaped is a zombie, which `pgrep -x` (main's check until 2026-12-07) still
    /// lists: setup then started nothing, and every boot failed on virtlogd's socket.
    /// A real zombie and a real sleeping process, each under a name of its own, asked
    /// through the function setup asks.
    @Test(.timeLimit(.minutes(1))) func aDaemonThatDiedUnreapedIsNotTakenForARunningOne() throws {
        let tag = String(ProcessInfo.processInfo.processIdentifier % 100_000)
        let (dead, live) = ("dxdead\(tag)", "dxlive\(tag)")
        let maker = Process()
        maker.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        maker.arguments = ["-c", """
            import ctypes, os, sys
            def child(name, stay):
                pid = os.fork()
                if pid == 0:
                    ctypes.CDLL(None).prctl(15, name.encode(), 0, 0, 0)
                    if stay: sys.stdin.read()
                    os._exit(0)
                return pid
            pids = [child(sys.argv[1], False), child(sys.argv[2], True)]
            print(*pids, flush=True)
            sys.stdin.read()
            """, dead, live]
        let input = Pipe(), output = Pipe()
        maker.standardInput = input
        maker.standardOutput = output
        try maker.run()
        defer { try? input.fileHandleForWriting.close(); maker.waitUntilExit() }
        // The whole line: a read may return it in parts (seen once in a loaded rehearsal).
        var line = ""
        while !line.contains("\n") {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            line += String(decoding: data, as: UTF8.self)
        }
        let pids = line.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
        try #require(pids.count == 2, "\(line)")
        // The first child exits at once; its parent never waits, so it stays a zombie.
        var state = ""
        for _ in 0..<50 {
            state = (try? Files.read("/proc/\(pids[0])/stat"))?.split(separator: ")").last?.split(separator: " ").first.map(String.init) ?? ""
            if state == "Z" { break }
            usleep(100_000)
        }
        try #require(state == "Z", "the first child is \(state), not a zombie")
        let daemons = Rig.packageRoot.appendingPathComponent("scripts/daemons.sh").path
        func alive(_ name: String) throws -> Bool {
            try Command("/bin/bash", ["-c", "source \"$1\" && alive \"$2\"", "bash", daemons, name]).runAllowingFailure().status == 0
        }
        #expect(try Command("pgrep", ["-x", dead]).runAllowingFailure().status == 0, "pgrep -x lists the zombie")
        #expect(try !alive(dead))
        #expect(try alive(live))
        #expect(try !alive("dxnone\(tag)"))
    }
}
