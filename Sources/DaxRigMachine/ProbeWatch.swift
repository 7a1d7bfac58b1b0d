import Foundation

/// How a KVM probe, here or on another host, reads its kernel while it runs: one rule
/// for both, so they cannot come to different verdicts on the same console.
///
/// A kernel that really runs under KVM prints its first console line a fraction of a
/// second after QEMU starts (LZ4 decompression and early boot are milliseconds there),
/// and reaches its root a second or two later. A nested host's KVM (these machines) hangs
/// before the first line and never prints at all: measured on 2026-12-07, 0 bytes after
/// 24 s, its QEMU burning a whole core meanwhile. So silence for `silence` seconds is a
/// hang, without waiting out the whole `timeout`; a kernel that printed anything gets the
/// whole `timeout` to reach its root. Every first run on a new nested host, and every
/// test that probes, saved 12 of those 20 seconds.
public enum ProbeWatch: Equatable, Sendable {
    /// Nothing decided yet: look again.
    case watching
    /// The kernel reached its root file system: the accelerator works.
    case reachedRoot
    /// Nothing on the console after `silence` seconds: hung before its first line.
    case silent
    /// It printed, but did not reach its root within `timeout`: hung later.
    case timedOut
    /// QEMU (or the domain) ended before the kernel reached its root.
    case ended

    /// Seconds of a silent console after which a probe kernel is taken as hung.
    public static let silence: Double = 8

    /// What a probe says `elapsed` seconds after its QEMU started: `silentFor` is how
    /// long its console has been open with nothing on it (nil once it printed), whether
    /// it shows the root reached (ProbeOutcome.reachedRoot), and whether QEMU still runs.
    /// The silence is counted from the console's opening, not from QEMU's start: a
    /// loaded host can take seconds to start QEMU, and a wrong "hung" pins the host to
    /// TCG for as long as it stays up, where the rule saves 12 s.
    public static func judge(elapsed: Double, silentFor: Double?, reachedRoot: Bool, running: Bool, timeout: Double,
                             silence: Double = ProbeWatch.silence) -> ProbeWatch {
        if reachedRoot { return .reachedRoot }
        if !running { return .ended }
        if elapsed >= timeout { return .timedOut }
        if let silentFor, silentFor >= silence { return .silent }
        return .watching
    }

    /// The watch of a probe on another host, where the console is a volume there: one
    /// look at its size when the silence is up (a pool refresh there, not one every
    /// tenth of a second), then the rest of the timeout, as measured by `now`.
    /// `waitUntilStopped(seconds)` is true when the domain ended within them; a log that
    /// cannot be sized (`logBytes` nil) counts as printed, so only the timeout can call
    /// it hung; a domain that ended while it was sized has ended, not gone silent.
    static func remote(timeout: Double, silence: Double = ProbeWatch.silence, now: () -> Double,
                       waitUntilStopped: (Double) -> Bool, logBytes: () -> UInt64?, isActive: () -> Bool) -> ProbeWatch {
        let started = now()
        if waitUntilStopped(min(silence, timeout)) { return .ended }
        let bytes = logBytes()
        let elapsed = now() - started
        let watch = judge(elapsed: elapsed, silentFor: bytes == 0 ? elapsed : nil, reachedRoot: false,
                          running: isActive(), timeout: timeout, silence: silence)
        guard watch == .watching else { return watch }
        return waitUntilStopped(max(0, timeout - (now() - started))) ? .ended : .timedOut
    }

    /// The verdict a watch that stopped here gives, worded for `what` (KVM, or the type
    /// tried) `where` (" on URI", or nothing for this machine); nil for `.ended` and
    /// `.watching`, which the caller words with what it knows (QEMU's stderr).
    public func outcome(what: String, where place: String, timeout: Double, silence: Double = ProbeWatch.silence) -> ProbeOutcome? {
        switch self {
        case .reachedRoot: .works("a kernel booted under \(what)\(place)")
        case .silent: .fails("a kernel under \(what)\(place) printed nothing within \(Self.seconds(silence)) s (hung)")
        case .timedOut: .fails("a kernel under \(what)\(place) did not get to mounting its root within \(Self.seconds(timeout)) s (hung)")
        case .ended, .watching: nil
        }
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }
}
