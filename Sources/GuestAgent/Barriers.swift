import Glibc
import DaxRigProtocol
import GuestCore

/// A pipe used as a barrier between a run and its workers.
struct Pipe {
    let read: Int32
    let write: Int32

    init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw AgentFailure("workload", "pipe: \(errnoText())") }
        read = fds[0]
        write = fds[1]
    }

    /// Writes `count` bytes: lets every worker go.
    func release(_ count: Int) {
        let bytes = [UInt8](repeating: 1, count: count)
        _ = FileIO.writeAll(write, bytes)
    }
}

/// The parent's side of the barriers: workers write a byte to `ready` when they reach
/// one. A worker that dies on the way (a SIGBUS from a kernel bug, say) never will, so
/// a wait counts the dead out instead of hanging until the boot's timeout, and their
/// exit statuses are kept for the report. A fault kills a worker only while it runs,
/// between two barriers, so a dead worker has not written the byte of the barrier the
/// parent waits at. The OOM killer can kill one that waits, byte written: the count is
/// then off, and that is why any OOM kill ends the workload (`checkMemory`).
struct WorkerGroup {
    let ready: Pipe
    private var pids: [pid_t] = []
    private var indices: [pid_t: Int] = [:]
    /// waitpid statuses of the workers that ended, by index.
    private var ended: [Int: Int32] = [:]
    /// The kernel log from the workers' start on, for OOM kills (`checkMemory`).
    private let oom = OOMWatch()
    /// False when /dev/kmsg could not be opened, and OOM kills go unwatched.
    var watchesMemory: Bool { oom.fd >= 0 }

    init(ready: Pipe) {
        self.ready = ready
    }

    mutating func add(_ pid: pid_t) {
        indices[pid] = pids.count
        pids.append(pid)
    }

    /// Returns once every worker in `expected` (indices in fork order) that is still
    /// alive has arrived; only those run, so only they can write or die. Throws, with
    /// every worker killed, once the OOM killer has killed anything in the guest: the
    /// kernel log is polled beside the barrier, and checked again before returning.
    mutating func await(_ expected: Range<Int>) throws {
        var needed = expected.filter { ended[$0] == nil }.count
        var buffer = [UInt8](repeating: 0, count: 4096)
        // poll(2) ignores a negative fd (no /dev/kmsg) and fills in every revents.
        var pollers = [pollfd(fd: ready.read, events: Int16(POLLIN), revents: 0), pollfd(fd: oom.fd, events: Int16(POLLIN), revents: 0)]
        while needed > 0 {
            let readable = poll(&pollers, 2, 100)
            if readable < 0 && errno != EINTR { break }
            if readable > 0 && pollers[1].revents != 0 { try checkMemory() }
            if readable > 0 && pollers[0].revents != 0 {
                let got = Glibc.read(ready.read, &buffer, min(needed, buffer.count))
                if got > 0 { needed -= got } else if got == 0 || errno != EINTR { break }
            } else {
                // Also when only the log woke us: a flood of kernel messages must not
                // keep the dead from being counted out.
                needed -= reap().filter(expected.contains).count
            }
        }
        try checkMemory()
    }

    /// Throws, with every worker killed and reaped, if the OOM killer has killed
    /// anything in the guest since the workers started: the guest is too small for the
    /// run or the kernel leaks, and waiting on lets the killer grind through the workers
    /// (a report of every task each time) until the boot's timeout.
    mutating func checkMemory() throws {
        guard let kill = oom.firstKill() else { return }
        for pid in pids { Glibc.kill(pid, SIGKILL) }
        _ = statuses()
        throw AgentFailure("workload", "the guest ran out of memory with \(pids.count) workers (MemTotal \(OOMWatch.memTotal())): "
            + "\(kill); all workers were stopped. Either the kernel leaks, or the guest is too small "
            + "for the run (daxrig sizes it in WorkloadRunner.memoryMiB); the kernel log has the OOM report")
    }

    /// Waits for every worker to end; their exit statuses in fork order, 128 + the
    /// signal for one that was killed.
    mutating func statuses() -> [Int32] {
        pids.indices.map { index in
            var status = ended[index] ?? 0
            if ended[index] == nil { while waitpid(pids[index], &status, 0) < 0 && errno == EINTR {} }
            switch Termination(waitStatus: status) {
            case let .exited(code): return code
            case let .signaled(signal): return 128 + signal
            case nil: return 128
            }
        }
    }

    /// Reaps the workers that ended; their indices.
    private mutating func reap() -> [Int] {
        var reaped: [Int] = []
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            guard pid > 0 else { return reaped }
            guard let index = indices[pid] else { continue }
            ended[index] = status
            reaped.append(index)
        }
    }
}

/// The OOM killer's kills since the watch began, read from the kernel log (/dev/kmsg):
/// daxrig's tiny kernels have no VM_EVENT_COUNTERS, so /proc/vmstat has no oom_kill.
final class OOMWatch {
    /// /dev/kmsg, non-blocking, at the log's end when the watch began; -1 if it could
    /// not be opened (the workload then says so in its notes).
    let fd: Int32
    private var kills: [String] = []

    init() {
        fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd >= 0 { lseek(fd, 0, SEEK_END) }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Reads the records logged since the last call; the first OOM kill seen, if any.
    func firstKill() -> String? {
        guard fd >= 0 else { return nil }
        var record = [UInt8](repeating: 0, count: 8192)
        while true {
            let got = read(fd, &record, record.count)
            if got < 0 && errno == EPIPE { continue }  // records overwritten before we read them: go on
            guard got > 0 else { break }
            if let kill = KernelMessages.oomKill(inRecord: String(decoding: record[0..<got], as: UTF8.self)) { kills.append(kill) }
        }
        return kills.first
    }

    static func memTotal() -> String {
        guard let text = try? FileIO.readText("/proc/meminfo"), let bytes = MemInfo(text: text).bytes["MemTotal"] else { return "unknown" }
        return "\(bytes >> 20) MiB"
    }
}
