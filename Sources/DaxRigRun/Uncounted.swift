import DaxRigProtocol

/// Workers the mapped snapshot cannot count as `shares` and `private` assume: one whose
/// mmap failed added no table, and one a fault killed before the snapshot took its own
/// page tables with it (CI, 2026-12-03: -5 pages for 10 private processes, one of them
/// dead). Either way the count is no measure of sharing, so neither verdict may pass on
/// it: an all-failed run measured 0 pages, which is "shared".
struct Uncounted {
    var failedMaps: [Int] = []
    /// Killed by a fault or trap before the mapped snapshot (its handler said when).
    var killedInWindow: [Int] = []
    /// Killed by a signal no handler saw (SIGKILL, the stress watchdog's SIGALRM): when
    /// is unknown, so it is named, and the count is still judged.
    var killedUnseen: [Int] = []

    init(_ report: WorkloadReport) {
        for (index, worker) in report.workers.enumerated() {
            if worker.mapErrno != 0 { failedMaps.append(index) }
            guard worker.exitStatus > 128 else { continue }
            if let fatal = worker.fatalSignal {
                if fatal.barriersPassed <= 1 { killedInWindow.append(index) }
            } else {
                killedUnseen.append(index)
            }
        }
    }

    var countable: Bool { failedMaps.isEmpty && killedInWindow.isEmpty }

    var note: String {
        var parts: [String] = []
        if let first = failedMaps.first { parts.append("\(Self.count(failedMaps.count)) failed to map (first: worker \(first))") }
        if let first = killedInWindow.first {
            parts.append("\(Self.count(killedInWindow.count)) killed by a fault while the others mapped (first: worker \(first)), "
                + "taking \(killedInWindow.count == 1 ? "its" : "their") page tables out of the count")
        }
        if !countable { return "; not a measure of sharing: " + parts.joined(separator: ", ") }
        if let first = killedUnseen.first { return "; \(Self.count(killedUnseen.count)) killed by a signal at an unknown point (first: worker \(first))" }
        return ""
    }

    private static func count(_ n: Int) -> String { n == 1 ? "1 worker" : "\(n) workers" }
}
