import DaxRigProtocol
import Foundation

/// Which part of a boot's console belongs to which case. Several workloads and stress
/// runs share a boot, and a kernel report printed while one of them ran is that case's
/// finding, not every case's: the guest writes a marker line to /dev/kmsg as each case
/// begins and after the last one ends, and the kernel orders those lines with its own
/// messages. A finding outside every case (during boot, pmem setup or shutdown) counts
/// against every case of the boot, since none of them ran on a healthy kernel then.
public struct ConsoleSections: Sendable, Equatable {
    static let begins = CaseMarker.begins
    static let end = CaseMarker.end

    /// Per case name, its 1-based console lines (the marker's line up to the next marker).
    public var cases: [String: Range<Int>]

    public init(cases: [String: Range<Int>] = [:]) { self.cases = cases }

    /// The markers in `log`. A name seen twice keeps its first section: the guest cannot
    /// take another case's lines by repeating a marker.
    public init(log: String) {
        var cases: [String: Range<Int>] = [:]
        var open: (name: String, line: Int)?
        // Only the lines holding a marker's bytes are looked at (ConsoleLines): a flood
        // of millions of console lines is cut and searched once, in C.
        let console = ConsoleLines(log)
        let marked = console.holding(any: [Self.begins, Self.end])
        for (index, line) in console.lines.enumerated() where marked[index] {
            let number = index + 1
            let begins = line.range(of: Self.begins)
            guard begins != nil || line.contains(Self.end) else { continue }
            if let current = open, cases[current.name] == nil { cases[current.name] = current.line..<number }
            open = begins.map { (String(line[$0.upperBound...]).trimmingCharacters(in: .whitespaces), number) }
        }
        if let current = open, cases[current.name] == nil { cases[current.name] = current.line..<Int.max }
        self.cases = cases
    }

    /// The findings that count against `name`: those in its own section and those in no
    /// case's. Without markers (an older agent, or a boot that never reached the cases)
    /// every finding counts.
    public func findings(_ findings: [ConsoleFinding], for name: String) -> [ConsoleFinding] {
        guard let own = cases[name] else { return findings }
        return findings.filter { finding in
            own.contains(finding.line) || !cases.values.contains { $0.contains(finding.line) }
        }
    }
}
