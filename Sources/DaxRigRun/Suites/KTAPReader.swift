import Foundation

/// The parser's state: a stack of open levels, each collecting the results printed at it
/// until its parent's result line takes them as subtests. A loop over lines and a stack
/// capped at `maxDepth`, so that hostile output costs linear time and bounded depth.
struct KTAPReader {
    static let maxDepth = 16
    static let lineLimit = 64 * 1024
    static let problemLimit = 100

    struct Frame {
        /// The prefix of this level's structural lines (`KTAPLine.segments`).
        var key: [Int]
        /// From "# Subtest: NAME", for the result that will close this level.
        var name: String?
        /// From a "# Subtest: NAME" printed at this level (TAP 14's way), for the next child level.
        var childName: String?
        var results: [KTAPResult] = []
        var plan: Int?
        /// A section starts at a version line, so that runs printed one after another
        /// (kselftest's run_tests, one per target) each number from 1 against their own plan.
        var sectionPlan: Int?
        var sectionStart = 0
        var lastNumber = 0
        var seen: Set<Int> = []
        var pending = KeptLines()
    }

    private var frames = [Frame(key: [0])]
    private var trailing = KeptLines()
    private var order = 0
    private var version: String?
    private var bailOut: String?
    private var skippedAll: String?
    private var problems: [String] = []
    private var moreProblems = 0
    /// NAME from the last top-level "# selftests: DIR: NAME" since the last top-level result.
    private var selftest: String?

    mutating func read(_ buffer: UnsafeBufferPointer<UInt8>) -> KTAPDocument {
        var start = 0
        while start < buffer.count, bailOut == nil, let base = buffer.baseAddress {
            let newline = memchr(base + start, 0x0A, buffer.count - start)
            let end = newline.map { UnsafeRawPointer(base).distance(to: $0) } ?? buffer.count
            var stored = min(end, start + Self.lineLimit)
            while stored > start, KTAPLine.isBlank(buffer[stored - 1]) || buffer[stored - 1] == 13 { stored -= 1 }
            feed(KTAPLine(UnsafeBufferPointer(rebasing: buffer[start..<stored])))
            start = end + 1
        }
        return finish()
    }

    private mutating func feed(_ line: KTAPLine) {
        if case .other = line.kind { return other(line) }
        let level = level(of: line.key)
        switch line.kind {
        case .version(let text):
            if version == nil { version = text }
            if frames[level].sectionPlan != nil || frames[level].results.count > frames[level].sectionStart {
                closeSection(level, label: label(level))
                frames[level].sectionPlan = nil
                frames[level].lastNumber = 0
                frames[level].seen = []
                frames[level].sectionStart = frames[level].results.count
            }
        case let .plan(count, comment, skip):
            if let previous = frames[level].sectionPlan {
                problem(at: level, "a second plan 1..\(count) after 1..\(previous)")
            } else {
                frames[level].sectionPlan = count
                frames[level].plan = (frames[level].plan ?? 0).addingReportingOverflow(count).partialValue
            }
            if level == 0, count == 0 { skippedAll = skip ?? comment }
            note(comment, at: level)
        case .result(let result):
            close(result, at: level)
        case .bailOut(let reason):
            // A nested bail-out ends one test program, which its runner reports; the run goes on.
            if level == 0 { bailOut = reason } else { note("Bail out! " + reason, at: level) }
        case .subtest(let name):
            if level == 0 || frames[level].name != nil || !frames[level].results.isEmpty {
                frames[level].childName = name
            } else {
                frames[level].name = name
            }
        case .other:
            break
        }
    }

    /// The level a structural line's prefix places it at, opening a child level when it is
    /// deeper than the deepest open one; a prefix between two open levels (mixed 2- and
    /// 4-space indentation) counts as the deeper of the two.
    private mutating func level(of key: ArraySlice<Int>) -> Int {
        let fitting = deepest(fitting: key)
        if key.elementsEqual(frames[fitting].key) { return fitting }
        guard fitting == frames.count - 1 else { return fitting + 1 }
        guard frames.count <= Self.maxDepth else { return fitting }
        frames.append(Frame(key: Array(key), name: frames[fitting].childName))
        frames[fitting].childName = nil
        return fitting + 1
    }

    private func deepest(fitting key: ArraySlice<Int>) -> Int {
        frames.indices.last { KTAPLine.fits(key, frames[$0].key) } ?? 0
    }

    private mutating func other(_ line: KTAPLine) {
        let level = deepest(fitting: line.segments[...])
        let (diagnostic, text) = line.remainder(within: frames[level].key)
        // Unknown lines (a printk, a program's own output) belong to whatever runs deepest.
        note(text, at: diagnostic ? level : frames.count - 1)
        if diagnostic, level == 0, text.hasPrefix("selftests: ") {
            let rest = text.dropFirst("selftests: ".count)
            selftest = String(rest.range(of: ": ").map { rest[$0.upperBound...] } ?? rest)
        }
    }

    private mutating func note(_ text: String, at level: Int) {
        // Lines come without trailing blanks, so a blank line arrives empty.
        guard !text.isEmpty else { return }
        order += 1
        frames[level].pending.append(text, order: order)
        trailing.append(text, order: order)
    }

    private mutating func close(_ line: KTAPLine.Result, at level: Int) {
        while frames.count > level + 2 { fold() }
        let child = frames.count > level + 1 ? frames.removeLast() : nil
        var log = frames[level].pending
        frames[level].pending = KeptLines()
        if let child {
            log.absorb(child.pending)
            closeSection(child, label: "'\(line.name)'")
        }
        if !line.comment.isEmpty {
            order += 1
            log.append(line.comment, order: order)
        }
        let last = frames[level].lastNumber
        let number = line.number ?? last + 1
        if line.number == nil {
            problem(at: level, "a result with \(line.unreadable ? "an unreadable" : "no") number after result \(last); taken as \(number)")
        } else if frames[level].seen.contains(number) {
            problem(at: level, "result \(number) appears twice")
        } else if number != last + 1 {
            problem(at: level, "result \(number) came where \(last + 1) was expected")
        }
        frames[level].seen.insert(number)
        frames[level].lastNumber = number
        frames[level].childName = nil
        frames[level].results.append(KTAPResult(
            number: number, name: line.name, ok: line.ok, directive: line.directive, reason: line.reason,
            diagnostics: log.lines, subtests: child?.results ?? [], plan: child?.plan))
        if level == 0 {
            trailing = KeptLines()
            selftest = nil
        }
    }

    /// Folds the deepest level into its parent: results whose parent's result line never came.
    private mutating func fold(reporting: Bool = true) {
        let child = frames.removeLast()
        let parent = frames.count - 1
        if reporting, !child.results.isEmpty {
            problem(at: parent + 1, "\(child.results.count) results never got their parent's result line", in: child)
        }
        frames[parent].results += child.results
        frames[parent].pending.absorb(child.pending)
    }

    private mutating func closeSection(_ level: Int, label: String?) {
        closeSection(frames[level], label: label)
    }

    private mutating func closeSection(_ frame: Frame, label: String?) {
        let count = frame.results.count - frame.sectionStart
        guard let plan = frame.sectionPlan, plan != count else { return }
        problem((label.map { "in \($0): " } ?? "") + "the plan 1..\(plan) does not match the \(count) result\(count == 1 ? "" : "s")")
    }

    private func label(_ level: Int) -> String? {
        guard level > 0 else { return nil }
        if let name = frames[level].name ?? (level == 1 ? selftest : nil) { return "'\(name)'" }
        return "nesting level \(level)"
    }

    private mutating func problem(at level: Int, _ text: String, in frame: Frame? = nil) {
        let name = frame.map { frame in frame.name.map { "'\($0)'" } ?? "nesting level \(level)" } ?? label(level)
        problem((name.map { "in \($0): " } ?? "") + text)
    }

    private mutating func problem(_ text: String) {
        if problems.count < Self.problemLimit { problems.append(text) } else { moreProblems += 1 }
    }

    private mutating func finish() -> KTAPDocument {
        while frames.count > 2 { fold(reporting: false) }
        var document = KTAPDocument()
        if frames.count == 2 {
            let open = frames.removeLast()
            document.running = open.name
            document.runningSubtests = open.results
            document.runningPlan = open.plan
        }
        document.running = document.running ?? frames[0].childName ?? selftest
        closeSection(0, label: nil)
        document.version = version
        document.plan = frames[0].plan
        document.results = frames[0].results
        document.trailing = trailing.lines
        document.bailOut = bailOut
        if document.plan == 0, document.results.isEmpty { document.skippedAll = skippedAll }
        if moreProblems > 0 { problems.append("… \(moreProblems) more problems") }
        if version == nil, document.results.isEmpty, document.runningSubtests.isEmpty {
            problems.append("no KTAP or TAP output: no version line and no result")
        }
        document.problems = problems
        return document
    }
}
