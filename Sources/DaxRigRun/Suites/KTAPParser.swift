import Foundation

/// One result line and what led to it.
public struct KTAPResult: Sendable, Equatable, Codable {
    public enum Directive: String, Sendable, Codable { case skip = "SKIP", todo = "TODO", xfail = "XFAIL", timeout = "TIMEOUT", error = "ERROR" }
    /// As printed, so that a report names the test the way its output does; the previous
    /// number + 1 when the line has none (sloppy TAP), with a problem said.
    public var number: Int
    /// The description after the number, without a leading "- " or the directive.
    public var name: String
    public var ok: Bool
    /// From "# SKIP reason" and the like, in any case; "# Skipped" is SKIP too.
    public var directive: Directive?
    /// The directive's text after its keyword ("" if none).
    public var reason: String
    /// What the test printed at its level since the previous result there: diagnostics
    /// without their "# ", unknown lines as they were, the result line's own "# comment"
    /// last. Only the last `KeptLines.limit` (200) are kept, after a note of how many went
    /// before, so that a test flooding its output cannot flood a report.
    public var diagnostics: [String]
    public var subtests: [KTAPResult]
    /// The nested "1..N" of its subtests, if printed.
    public var plan: Int?

    public init(number: Int, name: String, ok: Bool, directive: Directive? = nil, reason: String = "",
                diagnostics: [String] = [], subtests: [KTAPResult] = [], plan: Int? = nil) {
        self.number = number
        self.name = name
        self.ok = ok
        self.directive = directive
        self.reason = reason
        self.diagnostics = diagnostics
        self.subtests = subtests
        self.plan = plan
    }
}

/// The results of a test suite run in a guest, read from the KTAP v1/v2 or TAP 13/14 that
/// kselftest and KUnit print (Documentation/dev-tools/ktap.rst). The output is often
/// unfinished (the guest crashed or hung mid-test), so besides the results the document
/// says what was running when it stopped and what that test printed.
public struct KTAPDocument: Sendable, Equatable, Codable {
    /// The first version line found ("KTAP version 1", "TAP version 13"), nil if none.
    public var version: String?
    /// The top-level "1..N", wherever it was (TAP allows it at the end). For several
    /// top-level runs printed one after another (each starting at a version line), the sum.
    public var plan: Int?
    public var results: [KTAPResult]
    /// What followed the last top-level result: diagnostic and other lines at top level or
    /// in an unfinished nested block. This is what a test still running when the output
    /// stopped (a crash, a hang) printed. The last 200 lines, as in `KTAPResult.diagnostics`.
    public var trailing: [String]
    /// The test that was running when the output stopped, when the output names it: the name
    /// of an unfinished "# Subtest: NAME" block, or kselftest's "# selftests: DIR: NAME" line
    /// (then NAME), printed after the last top-level result. nil otherwise.
    public var running: String?
    /// Results of a nested block that never got its parent's result line (a crash mid-way).
    /// Deeper unfinished blocks are flattened into it, their results after its own.
    public var runningSubtests: [KTAPResult]
    /// The plan of that unfinished block, to tell how far it got.
    public var runningPlan: Int?
    /// "Bail out! reason" at top level, which ends the parse. A nested one ends only the test
    /// program that printed it (kselftest's runner goes on), so it is a diagnostic of its parent.
    public var bailOut: String?
    /// Why nothing ran, from a top-level "1..0 # SKIP reason" with no result ("" if no reason).
    public var skippedAll: String?
    /// Problems a reader must know: no version line and no result at all; a plan that does
    /// not match the number of results; result numbers that are not 1, 2, 3... in order;
    /// duplicates. Sentences naming the numbers, and the nested test ("in 'name': ...").
    public var problems: [String]

    public init(version: String? = nil, plan: Int? = nil, results: [KTAPResult] = [], trailing: [String] = [],
                running: String? = nil, runningSubtests: [KTAPResult] = [], runningPlan: Int? = nil,
                bailOut: String? = nil, skippedAll: String? = nil, problems: [String] = []) {
        self.version = version
        self.plan = plan
        self.results = results
        self.trailing = trailing
        self.running = running
        self.runningSubtests = runningSubtests
        self.runningPlan = runningPlan
        self.bailOut = bailOut
        self.skippedAll = skippedAll
        self.problems = problems
    }

    /// Never traps and never recurses per line: the text is what a guest printed, NUL bytes,
    /// binary junk and tens of megabytes included. Lines longer than 64 KiB are read (and
    /// kept) truncated; nesting deeper than 16 levels counts as the 16th.
    public static func parse(_ text: String) -> KTAPDocument {
        var text = text
        return text.withUTF8 { bytes in
            var reader = KTAPReader()
            return reader.read(bytes)
        }
    }

    /// Whether any KTAP/TAP was found at all (a version line, a plan or a result), so that a
    /// caller can tell a suite that printed no results from output that is no KTAP.
    public var isEmpty: Bool {
        version == nil && plan == nil && results.isEmpty && runningSubtests.isEmpty && runningPlan == nil
    }
}

/// The last `limit` lines of a stream with the order they came in, so that lines kept at
/// two levels merge back into the order they were printed, and a flood keeps its end.
struct KeptLines {
    static let limit = 200

    private var entries: [(order: Int, text: String)] = []
    private var dropped = 0

    mutating func append(_ text: String, order: Int) {
        entries.append((order, text))
        if entries.count >= 2 * Self.limit { trim() }
    }

    mutating func absorb(_ other: KeptLines) {
        dropped += other.dropped
        guard !other.entries.isEmpty else { return }
        var merged: [(order: Int, text: String)] = []
        merged.reserveCapacity(entries.count + other.entries.count)
        var left = entries[...], right = other.entries[...]
        while let l = left.first, let r = right.first {
            if l.order <= r.order { merged.append(l); left.removeFirst() } else { merged.append(r); right.removeFirst() }
        }
        merged += left
        merged += right
        entries = merged
        if entries.count >= 2 * Self.limit { trim() }
    }

    private mutating func trim() {
        guard entries.count > Self.limit else { return }
        dropped += entries.count - Self.limit
        entries.removeFirst(entries.count - Self.limit)
    }

    /// The last `limit` lines, after a note of how many came before them.
    var lines: [String] {
        let kept = entries.suffix(Self.limit).map(\.text)
        let gone = dropped + entries.count - kept.count
        return gone > 0 ? ["… \(gone) earlier lines dropped"] + kept : kept
    }
}
