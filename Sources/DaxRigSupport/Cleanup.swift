import Foundation

/// Undo actions for what a run creates (domains, backing files, mounts, temporary
/// directories), run on every exit path: normal return, thrown error, and SIGINT or
/// SIGTERM. Nothing a run made may outlive it unless the user asked (--keep).
public final class Cleanup: @unchecked Sendable {
    public static let shared = Cleanup()

    private let lock = NSLock()
    private var actions: [(id: Int, label: String, action: @Sendable () -> Void)] = []
    private var nextID = 0
    private var signalSources: [DispatchSourceSignal] = []
    /// Set by the signal handler before it cleans up; held by it until it exits.
    private var interruptSignal: Int32?
    private let handling = NSLock()
    /// Actions `run(_:)` took off the list and has not finished (a domain being
    /// destroyed on the main thread when the signal came): the handler waits for them,
    /// or the process would exit with the destroy half done and the domain still up.
    private let inFlight = NSCondition()
    private var inFlightCount = 0

    /// Registers `action`; returns a token to run or drop it early. Actions run last-in, first-out.
    /// After a signal, the handler's cleanup has already run: what is made then (by
    /// work that had not yet seen the signal) is undone at once, or it would outlive us.
    @discardableResult
    public func add(_ label: String, _ action: @escaping @Sendable () -> Void) -> Int {
        lock.lock()
        nextID += 1
        let id = nextID
        guard interruptSignal == nil else {
            lock.unlock()
            action()
            return id
        }
        actions.append((id, label, action))
        lock.unlock()
        return id
    }

    /// A signal arrived: start nothing new.
    public var interrupted: Bool {
        lock.lock(); defer { lock.unlock() }
        return interruptSignal != nil
    }

    /// Runs the action now (once) and forgets it.
    public func run(_ id: Int) {
        lock.lock()
        let found = actions.firstIndex { $0.id == id }.map { actions.remove(at: $0) }
        if found != nil { inFlight.lock(); inFlightCount += 1; inFlight.unlock() }
        lock.unlock()
        guard let found else { return }
        found.action()
        inFlight.lock(); inFlightCount -= 1; inFlight.broadcast(); inFlight.unlock()
    }

    /// Runs `body` (the final write of a run) so that an interrupt comes either wholly
    /// before it or after it: once the signal handler has begun, `body` never runs (the
    /// handler ends the process); once `body` has begun, the handler waits for it. A
    /// run whose guest the handler tore down must not be stored as finished, with the
    /// teardown's ERRORs as its results (issue 14, item 2: 1 of 20 interrupts did).
    public func uninterrupted<T>(_ body: () throws -> T) rethrows -> T {
        handling.lock()  // held for good by a handler that has begun: we stop here
        defer { handling.unlock() }
        return try body()
    }

    /// Starts a child and registers what stops it as one step that a signal cannot cut
    /// in two. Started first and registered after, a Ctrl-C between the two left the
    /// child running once daxrig had exited (CI, 2026-12-03: a `git checkout` orphaned
    /// so still held its work tree's index.lock when the next daxrig came).
    public func started(_ label: (pid_t) -> String, start: () throws -> pid_t, stop: @escaping @Sendable (pid_t) -> Void) throws -> Int {
        try uninterrupted {
            let pid = try start()
            return add(label(pid)) { stop(pid) }
        }
    }

    /// Waits (30 s at most) for the actions `run(_:)` is in the middle of.
    private func waitForInFlight() {
        let deadline = Date().addingTimeInterval(30)
        inFlight.lock()
        while inFlightCount > 0, inFlight.wait(until: deadline) {}
        inFlight.unlock()
    }

    /// Forgets the action without running it (what it would undo is kept on purpose).
    public func drop(_ id: Int) {
        lock.lock(); defer { lock.unlock() }
        actions.removeAll { $0.id == id }
    }

    /// Runs every pending action, newest first.
    public func runAll() {
        lock.lock()
        let pending = actions.reversed()
        actions.removeAll()
        lock.unlock()
        for entry in pending { entry.action() }
    }

    /// When a signal arrived, waits for its handler to finish cleaning up and exit
    /// with 128 + the signal. Work the cleanup cut short (a domain destroyed while it
    /// started) fails on the main thread; its exit status must not win over the
    /// interrupt's.
    public func exitIfInterrupted() {
        lock.lock()
        let signalNumber = interruptSignal
        lock.unlock()
        guard let signalNumber else { return }
        handling.lock()
        exit(128 + signalNumber)
    }

    /// On SIGINT, SIGTERM or SIGHUP (the terminal closed, say with a guest held for
    /// gdb; not under nohup): run every pending action, then exit 130, 143 or 129 as a
    /// shell would.
    /// Call once, early, from the CLI.
    public func installSignalHandlers() {
        lock.lock(); defer { lock.unlock() }
        guard signalSources.isEmpty else { return }
        // A daxrig started under nohup keeps ignoring SIGHUP, as nohup asked.
        var hangup = sigaction()
        sigaction(SIGHUP, nil, &hangup)
        let ignoresHangup = unsafeBitCast(hangup.__sigaction_handler.sa_handler, to: Int.self) == 1   // SIG_IGN
        for signalNumber in [SIGINT, SIGTERM] + (ignoresHangup ? [] : [SIGHUP]) {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [self] in
                handling.lock()  // never released: this handler ends the process
                lock.lock()
                interruptSignal = signalNumber
                lock.unlock()
                FileHandle.standardError.write(Data("\ndaxrig: \(signalNumber == SIGINT ? "interrupted" : signalNumber == SIGHUP ? "hung up" : "terminated"), cleaning up\n".utf8))
                runAll()
                waitForInFlight()
                // _exit, not exit: the main thread is still running (a make just killed,
                // a boot torn down), and exit's atexit handlers and static destructors
                // under it crashed daxrig with SIGSEGV instead of a clean 130.
                _exit(128 + signalNumber)
            }
            source.resume()
            signalSources.append(source)
        }
    }
}
