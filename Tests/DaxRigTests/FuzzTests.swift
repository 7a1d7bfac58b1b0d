import DaxRigProtocol
import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigKernel
@testable import DaxRigMachine
@testable import DaxRigSupport
@testable import DaxRigRun

/// Every parser a user or a guest feeds, fed mutated inputs (issue 14, item 6). A
/// seeded mutational fuzzer of our own: corpus files (the shipped specs, matrices,
/// configs and patches, the captured consoles and proc files, and
/// Fixtures/fuzz/), each mutated a few times per run by bit flips, byte
/// replacements, dictionary tokens (huge numbers, NaN, unclosed quotes, NUL),
/// deletions, duplications and truncations. A trap in a parser kills the test
/// process, and each parser also keeps an invariant of its own. The seed and the
/// count come from DAXRIG_FUZZ_SEED and DAXRIG_FUZZ_RUNS (per parser; 500 by
/// default, as CI runs it); a failure names the seed and the input.
@Suite struct FuzzTests {
    static let runs = Int(ProcessInfo.processInfo.environment["DAXRIG_FUZZ_RUNS"] ?? "") ?? 500
    static let seed = UInt64(ProcessInfo.processInfo.environment["DAXRIG_FUZZ_SEED"] ?? "") ?? 0x0DA7_5EED
    /// Where each input goes before it runs, when set: after a crash, the crasher.
    static let crashFile = ProcessInfo.processInfo.environment["DAXRIG_FUZZ_CRASH_FILE"]
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func corpus(_ paths: [String]) -> [[UInt8]] {
        paths.flatMap { path -> [[UInt8]] in
            let url = root.appendingPathComponent(path)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return [] }
            let files = isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted().map { url.appendingPathComponent($0) }
                : [url]
            return files.compactMap { FileManager.default.contents(atPath: $0.path).map(Array.init) }
        }
    }

    /// Runs `body` on `runs` mutants of the corpus; returns how many it ran.
    @discardableResult
    static func fuzz(_ name: String, corpus seeds: [[UInt8]], _ body: ([UInt8]) throws -> Void) -> Int {
        #expect(!seeds.isEmpty, "\(name): no corpus")
        var mutator = Mutator(seed: seed ^ Pattern.seed(name))
        for run in 0..<runs {
            let input = mutator.mutate(seeds[run % seeds.count])
            // A trap kills the process before any report: the input is on disk first.
            if let crashFile { try? Data(input).write(to: URL(fileURLWithPath: crashFile + "-" + name)) }
            do { try body(input) } catch {
                Issue.record("\(name): seed \(seed), run \(run): \(error)\ninput: \(String(decoding: input.prefix(400), as: UTF8.self))")
                return run
            }
        }
        return runs
    }

    struct Broken: Error, CustomStringConvertible { var description: String }

    @Test func testSpecs() {
        Self.fuzz("spec", corpus: Self.corpus(["kernels/specs", "Tests/DaxRigTests/Fixtures/fuzz/spec"])) { input in
            do { _ = try TestSpec.parse(String(decoding: input, as: UTF8.self), path: "/f/spec.toml") } catch {
                // Refused is fine; refused without saying where is not.
                guard "\(error)".contains("/f/spec.toml") || error is ByteSizeError else { throw Broken(description: "error without the path: \(error)") }
            }
        }
    }

    @Test func matrices() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("m.toml").path
        Self.fuzz("matrix", corpus: Self.corpus(["kernels/matrices"])) { input in
            try Data(input).write(to: URL(fileURLWithPath: path))
            _ = try? Matrix.load(path)
        }
    }

    @Test func sizesAndAssignments() {
        Self.fuzz("size", corpus: Self.corpus(["Tests/DaxRigTests/Fixtures/fuzz/size"])) { input in
            let text = String(decoding: input, as: UTF8.self)
            guard let bytes = try? ByteSize.parse(text) else { return }
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            let digits = trimmed.prefix { $0.isNumber }
            guard let value = UInt64(digits), bytes >= value else { throw Broken(description: "'\(text)' parsed to \(bytes)") }
        }
        Self.fuzz("set", corpus: Self.corpus(["Tests/DaxRigTests/Fixtures/fuzz/set"])) { input in
            guard let option = try? ConfigOption.parseAssignment(String(decoding: input, as: UTF8.self)) else { return }
            guard ConfigOption.isSymbol(option.symbol) else { throw Broken(description: "accepted symbol \(option.symbol)") }
        }
    }

    @Test func kernelFiles() {
        Self.fuzz("dot-config", corpus: Self.corpus(["kernels/configs", "Tests/DaxRigTests/Fixtures/tiny-pmem-dax.config"])) { input in
            let text = String(decoding: input, as: UTF8.self)
            _ = DotConfig(text: text)
            _ = try? ConfigFragment(name: "f", text: text)
        }
        Self.fuzz("kconfig", corpus: Self.corpus(["Tests/DaxRigTests/Fixtures/Kconfig.debug", "Tests/DaxRigTests/Fixtures/nvdimm.Kconfig"])) { input in
            _ = KconfigEntry.parse(symbol: "DEBUG_VM", fileText: String(decoding: input, as: UTF8.self), path: "/f/Kconfig")
        }
        Self.fuzz("patch", corpus: Self.corpus(["kernels/patches/demo", "kernels/patches/madv-cold-dax"])) { input in
            let text = String(decoding: input, as: UTF8.self)
            _ = UnifiedDiff(text: text)
            _ = try? PatchSeries.parse(seriesText: text, seriesPath: "/f/series")
        }
    }

    @Test func consoles() {
        Self.fuzz("console", corpus: Self.corpus(["Tests/DaxRigTests/Fixtures"]).filter { $0.count < 200_000 }) { input in
            let log = String(decoding: input, as: UTF8.self)
            let lines = log.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).count
            for finding in ConsoleScanner.scan(log) where finding.line < 1 || finding.line > lines {
                throw Broken(description: "finding at line \(finding.line) of \(lines)")
            }
            for (name, range) in ConsoleSections(log: log).cases where range.lowerBound < 1 || range.lowerBound > lines {
                throw Broken(description: "section \(name) at \(range)")
            }
            _ = VirtlogdSettings(conf: log)
            _ = MemInfo(text: log)
        }
    }

    @Test func ktapOutput() {
        Self.fuzz("ktap", corpus: Self.corpus(["Tests/DaxRigTests/Fixtures/fuzz/ktap"])) { input in
            let text = String(decoding: input, as: UTF8.self)
            let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).count
            let document = KTAPDocument.parse(text)
            // Every result is one line, kept once, no deeper than the nesting cap; a number
            // out of order is a problem said; what a flood printed is capped.
            var results = 0
            var pending = (document.results + document.runningSubtests).map { ($0, 1) }
            while let (result, depth) = pending.popLast() {
                results += 1
                guard depth <= KTAPReader.maxDepth + 1 else { throw Broken(description: "result \(result.name) at depth \(depth)") }
                guard result.number > 0 || !document.problems.isEmpty else { throw Broken(description: "result \(result.number) without a problem") }
                guard result.diagnostics.count <= KeptLines.limit + 1 else { throw Broken(description: "\(result.diagnostics.count) diagnostics") }
                pending += result.subtests.map { ($0, depth + 1) }
            }
            guard results <= lines else { throw Broken(description: "\(results) results from \(lines) lines") }
            guard document.trailing.count <= KeptLines.limit + 1 else { throw Broken(description: "\(document.trailing.count) trailing lines") }
            guard document.isEmpty == (document.version == nil && document.plan == nil && results == 0 && document.runningPlan == nil) else {
                throw Broken(description: "isEmpty \(document.isEmpty) with \(results) results")
            }
        }
    }

    @Test func theGuestsChannel() {
        Self.fuzz("agent-line", corpus: Self.corpus(["Tests/DaxRigTests/Fixtures/fuzz/agent"])) { input in
            // A line the guest sent: a message or an error, never a trap.
            if let message = try? AgentMessage.decode(line: input) {
                guard let again = try? AgentMessage.decode(line: message.encodedLine().dropLast()), again == message else {
                    throw Broken(description: "\(message) does not survive its own encoding")
                }
            }
            // The same bytes cut in two and framed: every line comes out, in order, whole.
            var framer = LineFramer(limit: 1 << 16)
            let cut = input.isEmpty ? 0 : Int(Pattern.seed(String(decoding: input, as: UTF8.self)) % UInt64(input.count))
            framer.append(input[..<cut])
            var lines: [[UInt8]] = []
            while case let .line(line)? = framer.next() { lines.append(line) }
            framer.append(input[cut...])
            while case let .line(line)? = framer.next() { lines.append(line) }
            let expected = input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast().map(Array.init)
            guard lines == Array(expected) else { throw Broken(description: "framed \(lines.count) lines, expected \(expected.count)") }
        }
    }
}

/// SplitMix64 and the mutations.
struct Mutator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }

    static let tokens: [[UInt8]] = [
        "=", "\"", "\"\"\"", "'", "[", "]", "[[workload]]", "[[stress]]", "[[persistence]]", "[[kernel]]", "{", "}", ",", "\n", "\r\n", "\0",
        "99999999999999999999", "-1", "0", "nan", "inf", "1e400", "18446744073709551615", "9223372036854775808", "8388608T",
        "processes = ", "size = \"", "timeout = ", "soak = ", "ops = [", "offsets = [", "T", "G", "K", "CONFIG_", "=y", "=m", "# CONFIG_X is not set",
        "@@ -1,3 +1,4 @@", "--- a/", "+++ b/", "diff --git ", "-p", "WARNING: CPU: 0 PID: 1 at", "BUG: ", "------------[ cut here ]------------",
        "---[ end trace ", "Kernel panic - not syncing", "bad pmd", "{\"kind\":", "\"report\"", "\u{FFFD}", "\u{1F600}", "\\u0000",
    ].map { Array($0.utf8) }

    /// One to eight mutations of `seed`.
    mutating func mutate(_ seed: [UInt8]) -> [UInt8] {
        var bytes = seed
        for _ in 0...below(8) {
            let at = below(bytes.count + 1)
            switch below(7) {
            case 0 where !bytes.isEmpty:
                let index = min(at, bytes.count - 1)
                bytes[index] ^= UInt8(1) << UInt8(below(8))
            case 1 where !bytes.isEmpty:
                bytes[min(at, bytes.count - 1)] = [0, 0xff, 0x80, 0x22, 0x5b, 0x5d, 0x3d, 0x0a, 0x2d, 0x39][below(10)]
            case 2, 3:
                bytes.insert(contentsOf: Self.tokens[below(Self.tokens.count)], at: at)
            case 4 where !bytes.isEmpty:
                bytes.removeSubrange(at..<min(bytes.count, at + below(64) + 1))
            case 5 where !bytes.isEmpty:
                let end = min(bytes.count, at + below(256) + 1)
                if at < end { bytes.insert(contentsOf: Array(bytes[at..<end]), at: at) }
            case 6:
                bytes = Array(bytes.prefix(at))
            default:
                bytes.insert(UInt8(truncatingIfNeeded: next()), at: at)
            }
        }
        return bytes
    }
}
