import Glibc

/// Test-only faults, asked for by the host through the workload's environment (daxrig
/// passes DAXRIG_INJECT_SIGBUS and DAXRIG_INJECT_OOM on from its own): how the rig
/// reports a worker that the kernel kills, or a guest out of memory, is tested on a
/// kernel and a guest size that do not cause either.
enum FaultInjection {
    /// The worker that takes a SIGBUS right after the control snapshot, if any.
    static var sigbusWorker: Int? { worker("DAXRIG_INJECT_SIGBUS") }

    /// The worker that, right after the control snapshot, takes anonymous memory until
    /// the guest's OOM killer ends it, if any.
    static var oomWorker: Int? { worker("DAXRIG_INJECT_OOM") }

    /// The worker that, right after the control snapshot, panics the kernel (sysrq's
    /// crash), as a kernel bug would mid-workload, if any.
    static var panicWorker: Int? { worker("DAXRIG_INJECT_PANIC") }

    /// A real kernel panic: sysrq 'c' (a NULL dereference in sysrq's handler, then
    /// `panic()` through oops=panic).
    static func panicKernel() -> Never {
        let fd = open("/proc/sysrq-trigger", O_WRONLY)
        _ = write(fd, "c", 1)
        while true { pause() }
    }

    /// The worker index an injection variable names, if it is set.
    private static func worker(_ variable: String) -> Int? {
        getenv(variable).flatMap { Int(String(cString: $0)) }
    }

    /// A real out-of-memory in the guest: 16 MiB at a time, every page written, until the
    /// kernel's OOM killer picks this process (the largest) and kills it.
    static func exhaustMemory() -> Never {
        let chunk = 16 << 20
        while true {
            guard let base = mmap(nil, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), base != MAP_FAILED else {
                continue  // the OOM killer comes while the next page faults in
            }
            for offset in stride(from: 0, to: chunk, by: 4096) { base.storeBytes(of: 1, toByteOffset: offset, as: UInt8.self) }
        }
    }

    /// A real SIGBUS from the kernel, BUS_ADRERR like a DAX fault that could not map:
    /// a load from the second page of a two-page mapping of a one-page file on the
    /// guest's /tmp (tmpfs), unlinked at once. The worker dies here, so what this
    /// allocates inside the measured window does not matter.
    static func takeSIGBUS() -> Never {
        let path = "/tmp/daxrig-sigbus-\(getpid())"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        unlink(path)
        guard fd >= 0, ftruncate(fd, 4096) == 0,
              let base = mmap(nil, 8192, PROT_READ, MAP_SHARED, fd, 0), base != MAP_FAILED else { _exit(98) }
        let byte = base.load(fromByteOffset: 4096, as: UInt8.self)
        _exit(Int32(byte) + 99)  // not reached: the load is past the end of the file
    }
}
