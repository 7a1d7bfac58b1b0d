import DaxRigSupport
import Foundation

/// Watches a running guest's console for a kernel report after which the guest cannot
/// go on by itself, and ends the boot then instead of at its timeout. In CI a verify
/// boot stalled at 22 s (RCU: a vCPU's timer had stopped, PID 1 stuck in the kernel)
/// and was destroyed at 900 s as a "timeout" naming neither the stall nor the CPU.
///
/// Only reports that stop the guest count. A panic has stopped it (with `panic=0`, as
/// `--dump-on-crash` boots, it stays halted): the boot ends once the report is written.
/// A stall, a lockup or a hung task may pass (TCG under load stalls for a while), so
/// the boot ends only when the agent has also said nothing for `stuckAfter` seconds
/// since. Any other report (KASAN, a WARN) leaves the guest running its cases, whose
/// reports still come and are judged each against its own findings.
struct ConsoleWatch {
    let path: String
    /// How often the console is looked at; it is read again only when it has grown.
    var interval: TimeInterval = 5
    /// How long the console must stay still after a report (its backtraces, the NMI
    /// dumps of other CPUs) before the boot ends; never longer than `settleLimit`.
    var settle: TimeInterval = 5
    var settleLimit: TimeInterval = 30
    /// How long the agent must be silent after a stall before the guest counts as stuck.
    var stuckAfter: TimeInterval = 60
    private var nextLook = Date.distantPast
    private var size = -1
    private var report: (finding: ConsoleFinding, seen: Date, stillSince: Date)?

    init(path: String) {
        self.path = path
    }

    /// Whether a report of `kind` stops the guest: `.halted` at once, `.stuck` only with
    /// a silent agent; nil for a report the guest goes on after.
    enum Stop { case halted, stuck }
    static func stop(_ kind: ConsoleFinding.Kind) -> Stop? {
        switch kind {
        case .panic: .halted
        case .rcuStall, .softLockup, .hardLockup, .hungTask: .stuck
        default: nil
        }
    }

    /// The report to end the boot with, once it is complete (and, for a stall, once the
    /// agent has been silent since `lastMessage` long enough); nil until then.
    mutating func decided(now: Date = Date(), lastMessage: Date = .distantPast) -> ConsoleFinding? {
        guard now >= nextLook else { return nil }
        let current = ConsoleLog.parts(of: path).reduce(0) { $0 + Int(Files.size($1)) }
        defer { size = current }
        if var found = report {
            nextLook = now.addingTimeInterval(1)
            if current != size { found.stillSince = now }
            report = found
            let written = now.timeIntervalSince(found.stillSince) >= settle || now.timeIntervalSince(found.seen) >= settleLimit
            let silent = now.timeIntervalSince(max(lastMessage, found.seen)) >= stuckAfter
            return written && (Self.stop(found.finding.kind) == .halted || silent) ? found.finding : nil
        }
        nextLook = now.addingTimeInterval(interval)
        guard current != size else { return nil }
        let console = ConsoleLog.read(path)
        guard let stop = ConsoleScanner.scan(console.text).first(where: { Self.stop($0.kind) != nil }) else { return nil }
        report = (stop, now, now)
        nextLook = now.addingTimeInterval(1)
        return nil
    }
}
