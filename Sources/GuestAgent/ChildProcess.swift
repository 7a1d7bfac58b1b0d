import DaxRigProtocol
import GuestCore
import Glibc

/// Starting programs and collecting what they print, as PID 1 must: every child that
/// ends is reaped here, ours or an orphan re-parented to init, so none stays a zombie.
enum ChildProcess {
    /// The PATH every child gets unless the plan overrides it.
    static let defaultPath = "/bin:/sbin:/usr/bin:/usr/sbin"

    static func environment(adding extra: [String: String]) -> [String: String] {
        var environment = ["PATH": defaultPath, "HOME": "/", "TERM": "linux"]
        environment.merge(extra) { _, new in new }
        return environment
    }

    /// `name` itself if it has a slash, else the first executable of that name on `path`.
    static func resolve(_ name: String, path: String) -> String? {
        if name.contains("/") { return FileIO.isExecutable(name) ? name : nil }
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(name)"
            if FileIO.isExecutable(candidate) { return candidate }
        }
        return nil
    }

    /// Runs `argv` with stdin on /dev/null and stdout/stderr on pipes, passing output to
    /// `onOutput` as it arrives. Returns once the child has ended and its pipes are
    /// drained; a background grandchild that keeps a pipe open is given one quiet
    /// second after the child's exit and then left behind (power-off kills it).
    static func run(_ argv: [String], environment: [String: String], stage: String,
                    onOutput: (AgentMessage.OutputStream, [UInt8]) -> Void) throws -> (Termination, Double) {
        guard let program = argv.first, !program.isEmpty else { throw AgentFailure(stage, "empty command") }
        let path = environment["PATH"] ?? defaultPath
        guard let executable = resolve(program, path: path) else {
            throw AgentFailure(stage, "\(program) not found on PATH \(path) (is it in the image? see images/guest.recipe)")
        }
        let stdoutPipe = try makePipe(stage: stage), stderrPipe = try makePipe(stage: stage)
        let started = Clock.now()
        let pid: pid_t
        do {
            pid = try spawn(executable, argv, environment: environment, stdio: .pipes(stdout: stdoutPipe.write, stderr: stderrPipe.write))
        } catch let failure as AgentFailure {
            for fd in [stdoutPipe.read, stdoutPipe.write, stderrPipe.read, stderrPipe.write] { close(fd) }
            throw AgentFailure(stage, failure.message)
        }
        close(stdoutPipe.write)
        close(stderrPipe.write)

        var streams: [(fd: Int32, stream: AgentMessage.OutputStream)] = [(stdoutPipe.read, .stdout), (stderrPipe.read, .stderr)]
        var termination: Termination?
        var seconds = 0.0
        var lastActivity = Clock.now()
        var buffer = [UInt8](repeating: 0, count: 16384)
        defer { for entry in streams { close(entry.fd) } }

        while true {
            reapAll { reaped, status in
                if reaped == pid, let ended = Termination(waitStatus: status) {
                    termination = ended
                    seconds = Clock.now() - started
                    lastActivity = Clock.now()
                }
            }
            if let termination {
                if streams.isEmpty || Clock.now() - lastActivity > 1.0 { return (termination, seconds) }
            } else if streams.isEmpty {
                // Output is done; block until something exits instead of polling.
                var status: Int32 = 0
                let reaped = waitpid(-1, &status, 0)
                if reaped == pid, let ended = Termination(waitStatus: status) {
                    return (ended, Clock.now() - started)
                }
                if reaped < 0 && errno == ECHILD {
                    throw AgentFailure(stage, "lost track of \(program) (pid \(pid)): no children left to wait for")
                }
                continue
            }
            var pollers = streams.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&pollers, nfds_t(pollers.count), 50)
            if ready < 0 && errno != EINTR {
                throw AgentFailure(stage, "poll on \(program)'s output: \(errnoText())")
            }
            guard ready > 0 else { continue }
            var closed: Set<Int32> = []
            for (index, poller) in pollers.enumerated() where poller.revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(poller.fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    onOutput(streams[index].stream, Array(buffer[0..<count]))
                    lastActivity = Clock.now()
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    closed.insert(poller.fd)
                }
            }
            for fd in closed { close(fd) }
            streams.removeAll { closed.contains($0.fd) }
        }
    }

    /// Runs a tool and returns its combined output; throws with that output's tail
    /// unless it exits 0.
    static func capture(_ argv: [String], stage: String) throws -> (output: String, seconds: Double) {
        var output: [UInt8] = []
        let (termination, seconds) = try run(argv, environment: environment(adding: [:]), stage: stage) { _, bytes in
            output.append(contentsOf: bytes)
        }
        let text = String(decoding: output, as: UTF8.self)
        guard termination.succeeded else {
            let tail = text.split(separator: "\n").suffix(15).joined(separator: "\n")
            throw AgentFailure(stage, "`\(argv.joined(separator: " "))` \(termination)" + (tail.isEmpty ? "" : ":\n\(tail)"))
        }
        return (text, seconds)
    }

    /// Reaps every child that has already ended, without blocking.
    static func reapAll(_ onReaped: (pid_t, Int32) -> Void = { _, _ in }) {
        while true {
            var status: Int32 = 0
            let reaped = waitpid(-1, &status, WNOHANG)
            if reaped <= 0 { return }
            onReaped(reaped, status)
        }
    }

    /// Ends every process but init: TERM, a grace period, KILL. As PID 1 every
    /// process left is a child of ours (orphans are re-parented to init), so "no
    /// children" (ECHILD) means done. kill(-1, 0) cannot tell: it succeeds on kernel
    /// threads too.
    static func terminateAll(grace: Double = 1.0) {
        func noChildrenLeft() -> Bool {
            var status: Int32 = 0
            return waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD
        }
        reapAll()
        if noChildrenLeft() { return }
        for signal in [SIGTERM, SIGKILL] {
            kill(-1, signal)
            let deadline = Clock.now() + grace
            while Clock.now() < deadline {
                reapAll()
                if noChildrenLeft() { return }
                Clock.sleep(seconds: 0.01)
            }
        }
    }

    private static func makePipe(stage: String) throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw AgentFailure(stage, "pipe: \(errnoText())") }
        // pipe2 is a GNU extension Swift does not import; the agent has one thread, so
        // setting close-on-exec afterwards races with nothing.
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    /// Where a child's standard descriptors go: stdin on /dev/null and the outputs on
    /// our pipes, or all three on a terminal that becomes the controlling terminal of a
    /// new session (setsid, then the first tty the session leader opens without
    /// O_NOCTTY is it), started in `directory`.
    enum Stdio {
        case pipes(stdout: Int32, stderr: Int32)
        case terminal(path: String, directory: String)
    }

    /// glibc's POSIX_SPAWN_SETSID (spawn.h), behind _GNU_SOURCE like addchdir_np.
    static let posixSpawnSetsid: Int32 = 0x80

    static func spawn(_ executable: String, _ argv: [String], environment: [String: String], stdio: Stdio) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
        switch stdio {
        case let .pipes(stdout, stderr):
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, stdout, 1)
            posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        case let .terminal(path, directory):
            flags |= posixSpawnSetsid
            posix_spawn_file_actions_addopen(&actions, 0, path, O_RDWR, 0)
            posix_spawn_file_actions_adddup2(&actions, 0, 1)
            posix_spawn_file_actions_adddup2(&actions, 0, 2)
            // The child starts where PID 1 is: addchdir_np is _GNU_SOURCE, which Swift's
            // Glibc module does not import. PID 1 goes back to / at once.
            _ = chdir(directory)
        }
        defer { _ = chdir("/") }

        // The agent ignores SIGPIPE; children must not inherit that.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnvironment: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }
            .map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in cArguments { free(pointer) }
            for pointer in cEnvironment { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, cArguments, cEnvironment)
        guard result == 0 else { throw AgentFailure("spawn", "cannot start \(executable): \(errnoText(result))") }
        return pid
    }
}
