import DaxRigSupport
import Foundation

/// Watches a running guest's console for a kernel report that already decides the
/// boot: a crash kind (ConsoleFinding.Kind.isCrash) makes the boot a kernel crash
/// whatever happens after it. Most of them end the guest (a panic reboots it), but an
/// RCU stall, a lockup or a hung task leaves it running or spinning: in CI a verify
/// boot stalled at 22 s and was destroyed at 900 s as a "timeout", which named neither
/// the stall nor the CPU. Now the boot ends once the report has been written.
struct ConsoleWatch {
    let path: String
    /// How often the console is looked at; it is read again only when it has grown.
    var interval: TimeInterval = 5
    /// How long the console must stay still after a report (its backtraces, the NMI
    /// dumps of other CPUs) before the boot ends; never longer than `settleLimit`.
    var settle: TimeInterval = 5
    var settleLimit: TimeInterval = 30
    private var nextLook = Date.distantPast
    private var size = -1
    private var report: (finding: ConsoleFinding, seen: Date, stillSince: Date)?

    init(path: String) {
        self.path = path
    }

    /// The crash to end the boot with, once its report is complete; nil until then.
    mutating func decided(now: Date = Date()) -> ConsoleFinding? {
        guard now >= nextLook else { return nil }
        let current = Self.bytes(of: path)
        defer { size = current }
        if var found = report {
            nextLook = now.addingTimeInterval(1)
            if current != size { found.stillSince = now }
            report = found
            let complete = now.timeIntervalSince(found.stillSince) >= settle || now.timeIntervalSince(found.seen) >= settleLimit
            return complete ? found.finding : nil
        }
        nextLook = now.addingTimeInterval(interval)
        guard current != size else { return nil }
        let console = ConsoleLog.read(path)
        guard let crash = ConsoleScanner.scan(console.text).first(where: { $0.kind.isCrash }) else { return nil }
        report = (crash, now, now)
        nextLook = now.addingTimeInterval(1)
        return nil
    }

    /// The console and its rolled-over parts together: a report that makes virtlogd
    /// roll the file over must not look like a console that shrank.
    static func bytes(of path: String) -> Int {
        let parts = [path] + (0..<VirtlogdSettings.current().maxBackups).map { "\(path).\($0)" }
        return parts.reduce(0) { total, part in
            total + ((try? FileManager.default.attributesOfItem(atPath: part)[.size] as? Int) ?? 0)
        }
    }
}
