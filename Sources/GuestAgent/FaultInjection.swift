import Glibc

/// Test-only faults, asked for by the host through the workload's environment (daxrig
/// passes DAXRIG_INJECT_SIGBUS on from its own): how the rig reports a worker that the
/// kernel kills is tested on a kernel that does not.
enum FaultInjection {
    /// The worker that takes a SIGBUS right after the control snapshot, if any.
    static var sigbusWorker: Int? {
        getenv("DAXRIG_INJECT_SIGBUS").flatMap { Int(String(cString: $0)) }
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
