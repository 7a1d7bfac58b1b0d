import DaxRigMachine
import Foundation

/// Turns a suite's KTAP and how its boot ended into tests, as KernelCI would mark them:
/// a test the output stopped in (a crash, a hang) is FAIL or ERROR with the console's
/// excerpt, and every test after it that the plan or the list names is MISS. Then the
/// spec's own say: known failures (with their reasons) and which tests count.
public struct SuiteJudge: Sendable {
    public var suite: SuiteSpec
    /// The tests the suite will run, in order, when daxrig knows them (a provider's list).
    public var planned: [String]?

    public init(suite: SuiteSpec, planned: [String]? = nil) {
        self.suite = suite
        self.planned = planned
    }

    public func judge(_ document: KTAPDocument, outcome: BootOutcome?, findings: [ConsoleFinding], excerpt: String,
                      overflow: String? = nil) -> [SuiteTest] {
        var tests: [SuiteTest] = []
        // daxrig's own rows: a guest's test of the same name gets "-2".
        var used = Set(Self.reserved)
        for result in document.results { add(result, prefix: "", to: &tests, used: &used) }
        // "no KTAP" is said below with the exit status; a suite that stopped mid-way has
        // its plan cut short by the stop, which its MISS results already say.
        let stoppedEarly: Bool = if case .commandExited? = outcome { false } else { outcome != nil }
        var problems = document.isEmpty ? [] : document.problems.filter { !(stoppedEarly && $0.contains("plan")) }
        if let overflow { problems.append(overflow) }
        if let bail = document.bailOut { problems.append("the suite bailed out: \(bail)") }
        switch outcome {
        case .commandExited(let status, let signal):
            if document.isEmpty {
                problems.append("the suite printed no KTAP or TAP (" + (signal.map { "killed by signal \($0)" } ?? "exit status \(status)") + ")")
            } else if status != 0, !tests.contains(where: \.status.isFailure), document.results.count > 0 {
                problems.append("the suite exited with status \(status) though no test failed")
            }
        case let ended?:
            stopped(in: document, by: ended, tests: &tests, used: &used)
        case nil:
            break
        }
        if !problems.isEmpty {
            let tail = excerpt.isEmpty ? "" : "\nlast output:\n" + Self.bounded(excerpt)
            tests.append(SuiteTest(path: "ktap", status: .error, detail: problems.joined(separator: "; ") + tail))
        }
        // A guest that did not boot showed nothing of the suite: MISS, as a workload's is.
        let booted: Bool = if case .bootFailure? = outcome { false } else { true }
        if !findings.isEmpty, booted {
            tests.append(SuiteTest(path: "kernel-log-clean", status: .fail,
                                   detail: findings.map { "\($0.kind.rawValue) (console line \($0.line)): \($0.excerpt)" }.joined(separator: "\n")))
        } else if case .commandExited? = outcome {
            tests.append(SuiteTest(path: "kernel-log-clean", status: .pass, detail: "no warning, oops or splat on the console"))
        }
        return counted(known(tests))
    }

    /// The test the output stopped in, and the MISS of every one after it.
    private func stopped(in document: KTAPDocument, by outcome: BootOutcome, tests: inout [SuiteTest], used: inout Set<String>) {
        let next = document.results.count + 1
        let status: TestStatus
        switch outcome {
        case .kernelCrash: status = .fail
        case .bootFailure: status = .miss
        default: status = .error
        }
        // A provider's runner names each test in the kernel log before it starts: with no
        // name after the last result, the crash came between two tests (or before the
        // first), and no test of the list is to blame.
        let between = document.running == nil && planned != nil && status != .miss
        let described = between ? "runner" : Self.testName(document.running ?? "", number: next)
        // A guest that never booted ran nothing: every test is MISS, this one too.
        let name = status == .miss || between ? described : unique(described, &used)
        let why = status == .miss ? "not run: the guest did not boot (\(outcome.name))" : "not run: the suite ended in \(name) (\(outcome.name))"
        if status != .miss {
            var detail = between ? "the suite stopped after test \(next - 1) ended and before test \(next) started: " : ""
            detail += Self.bounded("\(outcome)")
            if !document.trailing.isEmpty { detail += "\nits last output:\n" + document.trailing.suffix(20).joined(separator: "\n") }
            tests.append(SuiteTest(path: name, status: status, detail: detail))
            var inner = Set<String>()
            for result in document.runningSubtests { add(result, prefix: name + ".", to: &tests, used: &inner) }
        }
        // At most the provider's list, or 10,000 past what ran: a plan of 10^18 is not a
        // reason to make 10^18 rows.
        let total = min(planned?.count ?? document.plan ?? next, next + 10_000)
        let first = status == .miss || between ? next : next + 1
        guard total >= first else { return }
        for number in first...total {
            let listed = planned.flatMap { number <= $0.count ? $0[number - 1] : nil } ?? ""
            tests.append(SuiteTest(path: unique(Self.testName(listed, number: number), &used), status: .miss,
                                   detail: why))
        }
    }

    private func add(_ result: KTAPResult, prefix: String, to tests: inout [SuiteTest], used: inout Set<String>) {
        // "ok 1 # XFAIL mremap - Source and Destination Regions Overlapping": KTAP lets
        // the description be empty and the directive's reason name the test.
        let described = result.name.isEmpty && result.directive != nil ? result.reason : result.name
        let name = unique(prefix + Self.testName(described, number: result.number), &used)
        let status: TestStatus
        switch (result.ok, result.directive) {
        case (_, .skip?): status = .skip
        case (_, .todo?), (_, .xfail?): status = .done
        case (true, _): status = .pass
        case (false, .timeout?), (false, .error?): status = .error
        case (false, nil): status = .fail
        }
        var detail = result.directive.map { "\($0.rawValue) \(result.reason)".trimmingCharacters(in: .whitespaces) } ?? ""
        if status.isFailure || status == .done {
            let lines = Self.evidence(result.diagnostics)
            if !lines.isEmpty { detail += (detail.isEmpty ? "" : "\n") + lines.joined(separator: "\n") }
        }
        tests.append(SuiteTest(path: name, status: status, detail: detail))
        var inner = Set<String>()
        for subtest in result.subtests { add(subtest, prefix: name + ".", to: &tests, used: &inner) }
    }

    /// Known failures (the expected-failures file) are DONE with their reason; a listed
    /// test that passed says the list is out of date. Only a FAIL is known: an ERROR (a
    /// timeout, a crash, a program that did not build) is another way of failing, and
    /// daxrig's own rows cannot be listed.
    private func known(_ tests: [SuiteTest]) -> [SuiteTest] {
        // The file's name, not its path: details go to KCIDB and JUnit, read on other hosts.
        let file = suite.expectedFailuresFile.map { ($0 as NSString).lastPathComponent } ?? "the expected-failures file"
        return tests.map { test in
            guard let reason = suite.expectedFailures[test.path], !Self.reserved.contains(test.path) else { return test }
            var copy = test
            if test.status == .fail {
                copy.status = .done
                copy.detail = "expected failure (\(file)): \(reason); it was \(test.status.rawValue): \(test.detail)"
            } else if test.status == .pass {
                copy.detail = "passed, though \(file) lists it as an expected failure (\(reason)): remove that line"
            }
            return copy
        }
    }

    /// With `expect` naming tests, only those (and their subtests) count: the others'
    /// failures are DONE, and a named test that is not there is a FAIL.
    private func counted(_ tests: [SuiteTest]) -> [SuiteTest] {
        guard case let .named(names) = suite.counted else { return tests }
        let counts = { (path: String) in ["ktap", "kernel-log-clean"].contains(path) || names.contains { path == $0 || path.hasPrefix($0 + ".") } }
        var result = tests.map { test -> SuiteTest in
            if counts(test.path), names.contains(test.path), test.status == .skip || test.status == .miss {
                return SuiteTest(path: test.path, status: .fail, detail: "expect names \(test.path), and it did not run (\(test.status.rawValue)): \(test.detail)")
            }
            guard test.status.isFailure, !counts(test.path) else { return test }
            return SuiteTest(path: test.path, status: .done, detail: "not counted (expect names \(names.joined(separator: ", "))): \(test.status.rawValue) \(test.detail)")
        }
        for name in names where !tests.contains(where: { $0.path == name }) {
            result.append(SuiteTest(path: name, status: .fail, detail: "expect names \(name), and the suite ran no test of that name"))
        }
        return result
    }

    /// The suite's own rows, which no guest test and no expected failure may take.
    public static let reserved = ["ktap", "kernel-log-clean", "runner"]

    /// The last lines of what a suite printed, from its last 64 KiB only (a flood of
    /// empty lines is millions of them), each at most 500 characters, without NULs.
    public static func excerpt(_ text: String) -> String {
        let tail = text.utf8.count > 65_536 ? String(decoding: text.utf8.suffix(65_536), as: UTF8.self) : text
        return tail.split(whereSeparator: \.isNewline).suffix(20).map { bounded(String($0), limit: 500) }.joined(separator: "\n")
    }

    /// At most `limit` characters, NULs dropped: details go to the store, JUnit and KCIDB.
    public static func bounded(_ text: String, limit: Int = 16_384) -> String {
        let clean = text.contains("\0") ? text.replacingOccurrences(of: "\0", with: "") : text
        return clean.count > limit ? String(clean.prefix(limit)) + " [cut at \(limit) characters]" : clean
    }

    /// The diagnostics behind a verdict: the lines that say "fail" or "error" (khugepaged
    /// prints 60 lines of OK around its 4 failures), then the last lines, without
    /// kselftest's "selftests: DIR: NAME" header and terminal colours.
    static func evidence(_ diagnostics: [String]) -> [String] {
        let lines = diagnostics.map(Self.plain).filter { !$0.hasPrefix("selftests: ") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        let flagged = lines.filter { $0.range(of: "fail", options: .caseInsensitive) != nil || $0.range(of: "error", options: .caseInsensitive) != nil }
        var kept = Array(flagged.prefix(10))
        for line in lines.suffix(10) where !kept.contains(line) { kept.append(line) }
        return kept.map { bounded($0, limit: 500) }
    }

    /// Without ANSI escape sequences (ESC [ ... letter).
    static func plain(_ line: String) -> String {
        guard line.contains("\u{1B}") else { return line }
        var result = ""
        var escaping = false
        for character in line {
            if escaping {
                if character.isLetter { escaping = false }
            } else if character == "\u{1B}" {
                escaping = true
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// A KTAP description as one dotted-path component: kselftest's "selftests: mm: "
    /// prefix dropped, anything but letters, digits, '-' and '_' made '_', at most 120
    /// characters; "test-N" when nothing is left.
    public static func testName(_ description: String, number: Int) -> String {
        var text = Substring(description)
        if text.hasPrefix("selftests: "), let colon = text.dropFirst(11).firstIndex(of: ":") { text = text[text.index(after: colon)...] }
        var name = ""
        for character in text.trimmingCharacters(in: .whitespaces) {
            let keep = character.isASCII && (character.isLetter || character.isNumber || character == "-" || character == "_")
            if keep { name.append(character) } else if !name.hasSuffix("_") { name.append("_") }
            if name.count >= 120 { break }
        }
        while name.hasSuffix("_") { name.removeLast() }
        while name.hasPrefix("_") { name.removeFirst() }
        return name.isEmpty ? "test-\(number)" : name
    }

    private func unique(_ name: String, _ used: inout Set<String>) -> String {
        var candidate = name
        var suffix = 2
        while !used.insert(candidate).inserted {
            candidate = "\(name)-\(suffix)"
            suffix += 1
        }
        return candidate
    }
}
