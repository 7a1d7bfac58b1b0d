extension ConsoleScanner {
    /// Where a finding's excerpt ends: after its call trace when one begins within
    /// `traceWithin` lines (the trace says where a stall spun or a BUG fired; the
    /// register dump before it does not), else `context` lines on. Never more than
    /// `limit` lines. An RCU stall's NMI backtrace starts its trace 17 lines down.
    static func excerptEnd(_ lines: [Substring], from start: Int, context: Int, traceWithin: Int = 24, limit: Int = 64) -> Int {
        let window = min(lines.count, start + 1 + context)
        let traceWindow = min(lines.count, start + 1 + max(context, traceWithin))
        guard let trace = (start + 1..<traceWindow).first(where: { ConsoleLines.holds(lines[$0], "Call Trace:") }) else { return window }
        let last = min(lines.count, start + limit)
        guard trace + 1 < last else { return window }
        for index in trace + 1..<last where ConsoleLines.holds(lines[index], "</TASK>") || ConsoleLines.holds(lines[index], "---[ end ") {
            return index + 1
        }
        return window
    }
}
