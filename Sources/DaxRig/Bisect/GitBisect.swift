import Foundation
import DaxRigSupport

/// git bisect, run in a bare repository of daxrig's own that shares the user's objects
/// (`clone --bare --shared`): git picks the commits, keeps the marks and writes the
/// log, and the user's checkout and its bisect state are never touched. Bare means
/// `--no-checkout`: the commit to test is BISECT_HEAD, and daxrig's kernel workspace
/// checks it out for the build.
struct GitBisect {
    /// What git says after a start or a mark.
    enum Next: Equatable {
        case test(String)
        case firstBad(String)
        /// Skips left several candidates.
        case onlySkipped([String])
    }

    let directory: String

    /// Clones (once) the user's repository for bisecting.
    static func prepare(repository: String, in directory: String) throws -> GitBisect {
        if !Files.exists(directory + "/HEAD") {
            Files.remove(directory)
            try Command("git", ["clone", "-q", "--bare", "--shared", repository, directory]).run()
        }
        return GitBisect(directory: directory)
    }

    @discardableResult
    func git(_ arguments: [String]) throws -> Command.Output {
        try Command("git", ["-C", directory] + arguments).runAllowingFailure()
    }

    var started: Bool { Files.exists(directory + "/BISECT_START") }

    func start(bad: String, good: String) throws -> Next {
        _ = try git(["bisect", "reset"])
        return try next(after: git(["bisect", "start", "--no-checkout", bad, good]), action: "start")
    }

    func mark(_ verdict: BisectStep.Verdict, _ commit: String) throws -> Next {
        try next(after: git(["bisect", verdict.rawValue, commit]), action: "\(verdict.rawValue) \(commit)")
    }

    /// The commit git wants tested now.
    func current() throws -> String? {
        let head = try git(["rev-parse", "--verify", "--quiet", "BISECT_HEAD"])
        return head.status == 0 ? head.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    /// git bisect's own log, which `git bisect replay` takes.
    func log() throws -> String { try git(["bisect", "log"]).standardOutput }

    func subject(_ commit: String) -> String {
        ((try? git(["log", "-1", "--format=%s", commit]))?.standardOutput ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Reads git's answer: another commit to test, the first bad commit, or the
    /// candidates skips left.
    func next(after output: Command.Output, action: String) throws -> Next {
        let text = output.standardOutput + "\n" + output.standardError
        if let line = text.split(separator: "\n").first(where: { $0.hasSuffix(" is the first bad commit") }) {
            return .firstBad(String(line.prefix { $0 != " " }))
        }
        if text.contains("There are only 'skip'ped commits left to test") {
            let hashes = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { $0.count == 40 && $0.allSatisfy(\.isHexDigit) }
            return .onlySkipped(hashes)
        }
        if output.status == 0, let commit = try current() { return .test(commit) }
        throw BisectError.git(action: action, output: Command.tail(text, lines: 12))
    }
}
