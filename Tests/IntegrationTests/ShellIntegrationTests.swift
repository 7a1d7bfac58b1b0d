import DaxRigSupport
import Foundation
import Testing

/// `daxrig boot --shell` on a real terminal (issue 16): tmux plays the developer, typing
/// into a pane and reading what the pane shows.
@Suite(.serialized, .timed) struct ShellIntegrationTests {
    /// A tmux server of the test's own, so a developer's sessions are never touched.
    struct Pane {
        /// One server per pane: a test's server killed at its end must not take the next
        /// test's session with it.
        let socket = "daxrig-test-\(getpid())-\(UUID().uuidString.prefix(8))"

        func tmux(_ arguments: [String]) throws -> String {
            try Command("tmux", ["-L", socket] + arguments).run().standardOutput
        }

        /// The session. Its client is not waited for: the tmux server it forks keeps
        /// every descriptor the client had (a pipe of ours would never reach end of
        /// file, and Foundation's wait for the client never returned here); a client of
        /// the running server (`has-session`) says when it is up.
        func start(_ command: String, columns: Int, rows: Int) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/tmux")
            process.arguments = ["-L", socket, "new-session", "-d", "-s", "shell", "-x", "\(columns)", "-y", "\(rows)", command]
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(20)
            while (try? Command("tmux", ["-L", socket, "has-session", "-t", "shell"]).runAllowingFailure().status) != 0 && Date() < deadline {
                usleep(100_000)
            }
        }

        func screen() -> String { (try? tmux(["capture-pane", "-p", "-t", "shell"])) ?? "" }

        /// Waits until the pane shows `text` `count` times, so a test never races the guest.
        func waitFor(_ text: String, count: Int = 1, seconds: Double = 120) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if screen().components(separatedBy: text).count - 1 >= count { return true }
                usleep(200_000)
            }
            return false
        }

        func type(_ keys: String...) throws { _ = try tmux(["send-keys", "-t", "shell"] + keys) }
    }

    /// `daxrig boot --shell` in a pane, exec'd by a shell that writes daxrig's pid
    /// before (for the check that no domain is left) and, after, its exit status and
    /// the terminal's modes as daxrig left them.
    struct ShellRun {
        let pane = Pane()
        let pidFile: String, statusFile: String, sttyFile: String

        /// `prefix` goes before daxrig's command (an environment for it), `arguments`
        /// after `boot --shell` (another host).
        init(in directory: URL, prefix: String = "", arguments: String = "") throws {
            (pidFile, statusFile, sttyFile) = (directory.appendingPathComponent("pid").path, directory.appendingPathComponent("status").path,
                                               directory.appendingPathComponent("stty").path)
            try pane.start("sh -c 'echo $$ > \(pidFile); exec \(prefix)\(Rig.daxrig) boot --shell \(arguments)'; echo $? > \(statusFile); stty -a > \(sttyFile); sleep 600",
                           columns: 100, rows: 30)
        }

        /// Waits (60 s at most) for daxrig's end: its status, `stty -a` after it, and its pid.
        func ended() throws -> (status: String, modes: String, pid: Int32) {
            let deadline = Date().addingTimeInterval(60)
            while ((try? Files.read(sttyFile)) ?? "").isEmpty && Date() < deadline { usleep(200_000) }
            return (((try? Files.read(statusFile)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines), (try? Files.read(sttyFile)) ?? "",
                    Int32(try Files.read(pidFile).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1)
        }
    }

    @Test func aShellOnATerminalHasTheDaxMountTheSizeAndCtrlCAndCtrlDEndsIt() throws {
        _ = try Rig.defaultKernel()
        let directory = try Rig.scratch("shell")
        defer { Files.removeDirectory(directory.path) }
        let run = try ShellRun(in: directory)
        let pane = run.pane
        defer { _ = try? pane.tmux(["kill-server"]) }
        #expect(pane.waitFor("daxrig:/mnt/pmem#"), "no prompt: \(pane.screen())")
        try pane.type("grep -c dax=always /proc/mounts; stty size; tty", "Enter")
        #expect(pane.waitFor("1\n30 100\n/dev/pts/0"), "\(pane.screen())")
        // Ctrl-C is the guest shell's: it stops the guest's sleep, daxrig stays.
        try pane.type("sleep 4; echo after-sleep-$?", "Enter")
        usleep(1_500_000)
        try pane.type("C-c")
        #expect(pane.waitFor("daxrig:/mnt/pmem#", count: 3, seconds: 30), "Ctrl-C did not reach the guest's shell: \(pane.screen())")
        usleep(4_000_000)
        #expect(!pane.screen().contains("after-sleep-0"), "the sleep ran to its end: \(pane.screen())")
        // The window's new size reaches the guest's terminal.
        _ = try pane.tmux(["resize-window", "-t", "shell", "-x", "120", "-y", "40"])
        usleep(1_000_000)
        try pane.type("stty size", "Enter")
        #expect(pane.waitFor("40 120"), "\(pane.screen())")
        // Ctrl-D ends the shell, and with it the guest.
        try pane.type("C-d")
        let (status, modes, pid) = try run.ended()
        #expect(status == "0", "\(pane.screen())")
        #expect(try Rig.domainsLeft(by: pid).isEmpty)
        #expect(Rig.runFilesLeft(by: pid).isEmpty)
        // The terminal is as daxrig found it: canonical, echoing.
        #expect(modes.contains(" icanon") && modes.contains(" echo ") && !modes.contains("-icanon"), "\(modes)")
    }

    /// Ctrl-] is daxrig's way out of a guest that no longer answers: the domain goes,
    /// the terminal comes back, exit 143 (SIGTERM's cleanup).
    @Test func ctrlRightBracketDestroysTheGuestAndRestoresTheTerminal() throws {
        _ = try Rig.defaultKernel()
        let directory = try Rig.scratch("shell-escape")
        defer { Files.removeDirectory(directory.path) }
        let run = try ShellRun(in: directory)
        let pane = run.pane
        defer { _ = try? pane.tmux(["kill-server"]) }
        #expect(pane.waitFor("daxrig:/mnt/pmem#"), "no prompt: \(pane.screen())")
        try pane.type("C-]")
        let (status, modes, pid) = try run.ended()
        #expect(status == "143", "\(pane.screen())")
        #expect(modes.contains(" icanon") && !modes.contains("-icanon"), "\(modes)")
        #expect(try Rig.domainsLeft(by: pid).isEmpty)
    }

    @Test func aShellWithoutATerminalIsRefused() throws {
        let run = try Rig.run(["boot", "--shell"])
        #expect(run.status == 2)
        #expect(run.standardError.contains("--shell needs a terminal on stdin"), "\(run.standardError)")
    }
}
