import Glibc

/// Monotonic seconds, for step timings that a wall-clock jump (the guest sets no
/// time at all) cannot disturb.
enum Clock {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func sleep(seconds: Double) {
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    /// The first field of /proc/uptime: seconds since the kernel started.
    static func uptime() -> Double {
        guard let text = try? FileIO.readText("/proc/uptime"),
              let first = text.split(separator: " ").first else { return 0 }
        return Double(first) ?? 0
    }
}
