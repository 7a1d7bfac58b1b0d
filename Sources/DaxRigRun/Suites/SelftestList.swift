import DaxRigSupport
import Foundation

/// daxrig's list of a selftest directory's tests: the programs, arguments and order the
/// kernel's runner script uses (run_vmtests.sh for mm), and what each needs. A file of
/// `NAME NEEDS COMMAND...` lines, `#` comments:
///
///     hugepage-shm    CONFIG_SYSVIPC,CONFIG_HUGETLBFS   ./hugepage-shm
///     va_128TBswitch  cpu:la57                          ./va_128TBswitch
///
/// NEEDS is `-`, or kernel options (checked on the host against the kernel's config) and
/// `cpu:FLAG` (checked in the guest's /proc/cpuinfo), comma-separated. A test whose
/// needs are not met is SKIP with the reason, never FAIL: the kernel lacks a feature,
/// it did not break one.
public struct SelftestList: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var kernelOptions: [String]
        public var cpuFlags: [String]
        /// `status:count`: the program exits with its number of failures (6.1's
        /// khugepaged), so 4 is four failures, not KSFT_SKIP.
        public var statusCountsFailures = false
        public var command: [String]
    }

    public var entries: [Entry]
    /// `setup COMMAND...` lines: run once, in order, before the first test (a file on
    /// /mnt/pmem for the DAX cases, say); their output goes to the log as diagnostics.
    public var setup: [[String]] = []

    public static func load(_ path: String) throws -> SelftestList {
        try parse(Files.read(path), path: path)
    }

    public static func parse(_ text: String, path: String) throws -> SelftestList {
        var entries: [Entry] = []
        var setup: [[String]] = []
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let words = line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard !words.isEmpty else { continue }
            func bad(_ message: String, _ hint: String) -> InputFileError {
                InputFileError(file: path, line: index + 1, key: nil, message: message, hint: hint)
            }
            // The guest's sh reads the commands: only words that need no quoting.
            if let word = words.dropFirst(words[0] == "setup" ? 1 : 2).first(where: { !$0.allSatisfy { $0.isLetter || $0.isNumber || "./-_=:,+".contains($0) } }) {
                throw bad("'\(word)' needs shell quoting", "commands are program and plain arguments; put anything more in a script")
            }
            if words[0] == "setup" {
                guard words.count >= 2 else { throw bad("a setup line without a command", "e.g. setup truncate -s 512M /mnt/pmem/file") }
                setup.append(Array(words.dropFirst()))
                continue
            }
            guard words.count >= 3 else { throw bad("'\(line)' is not NAME NEEDS COMMAND", "e.g. gup_test_u CONFIG_GUP_TEST ./gup_test -u") }
            guard words[0].allSatisfy({ $0.isLetter || $0.isNumber || "-_".contains($0) }) else {
                throw bad("test name '\(words[0])': use letters, digits, '-' and '_'", "names become KTAP test names")
            }
            guard !SuiteJudge.reserved.contains(words[0]) else { throw bad("'\(words[0])' is daxrig's own check of the suite", "name the test otherwise") }
            guard !entries.contains(where: { $0.name == words[0] }) else { throw bad("'\(words[0])' is listed twice", "give each invocation its own name") }
            let needs = words[1] == "-" ? [] : words[1].split(separator: ",").map(String.init)
            var options: [String] = [], flags: [String] = []
            var counts = false
            for need in needs {
                if need == "status:count" {
                    counts = true
                } else if need.hasPrefix("CONFIG_"), need.dropFirst(7).allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }) {
                    options.append(need)
                } else if need.hasPrefix("cpu:"), need.dropFirst(4).allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "_" }), need.count > 4 {
                    flags.append(String(need.dropFirst(4)))
                } else {
                    throw bad("'\(need)' is neither CONFIG_X, cpu:flag nor status:count", "NEEDS is -, or kernel options, cpu:FLAG and status:count, comma-separated")
                }
            }
            entries.append(Entry(name: words[0], kernelOptions: options, cpuFlags: flags, statusCountsFailures: counts, command: Array(words.dropFirst(2))))
        }
        guard !entries.isEmpty else { throw InputFileError(file: path, line: nil, key: nil, message: "the list has no tests", hint: "NAME NEEDS COMMAND a line") }
        return SelftestList(entries: entries, setup: setup)
    }

    /// The guest's runner: kselftest's runner.sh as busybox sh runs it. One test at a time
    /// in the tests' directory, each under `timeout`, its output as KTAP diagnostics
    /// ("# " lines, a newline after each even when the test printed none), then its
    /// result: exit 0 PASS, 4 (KSFT_SKIP) SKIP, the timeout TIMEOUT, else FAIL with the
    /// status. A test whose kernel options `builtIn` lacks is SKIP before it runs.
    public func script(directory: String, suite: String, testTimeout: Int, builtIn: Set<String>?) -> String {
        var lines = [
            "#!/bin/sh",
            "# written by daxrig from its list of \(suite) tests; KTAP on stdout",
            "set -o pipefail",
            "cd \(directory) || exit 1",
            // What run_vmtests.sh sets up: hugetlbfs at ./huge, huge pages, SysV shm limits.
            "mkdir -p huge && mount -t hugetlbfs none huge 2>/dev/null",
            "[ -w /proc/sys/vm/nr_hugepages ] && echo 128 > /proc/sys/vm/nr_hugepages",
            "[ -w /proc/sys/kernel/shmmax ] && echo 268435456 > /proc/sys/kernel/shmmax && echo 4194304 > /proc/sys/kernel/shmall",
            // Each line of the runner's own also goes to the kernel log, whose records a
            // panic flushes to the console: the test a crash stopped is named from there.
            "say() { echo \"$*\"; echo \"\(KernelLogMirror.prefix)$*\" > /dev/kmsg 2>/dev/null; }",
            "skip() { say \"# selftests: \(suite): $2\"; say \"ok $1 $2 # SKIP $3\"; }",
            "run() {",
            "  n=$1; name=$2; skipping=$3; shift 3",
            "  say \"# selftests: \(suite): $name\"",
            "  if [ ! -x \"$1\" ]; then say \"not ok $n $name # ERROR $1 did not build on the host (the selftests' build.log says why)\"; return; fi",
            "  timeout \(testTimeout) \"$@\" </dev/null 2>&1 | awk '{ print \"# \" $0; fflush() }'",
            "  rc=$?",
            "  case $rc in",
            "    0) say \"ok $n $name\" ;;",
            "    4) if [ $skipping = 1 ]; then say \"ok $n $name # SKIP\"; else say \"not ok $n $name # exit=4 (4 failures)\"; fi ;;",
            "    124|143) say \"not ok $n $name # TIMEOUT \(testTimeout) seconds\" ;;",
            "    *) say \"not ok $n $name # exit=$rc\" ;;",
            "  esac",
            "}",
        ] + setup.map { $0.joined(separator: " ") + " 2>&1 | awk '{ print \"# setup: \" $0 }'" } + [
            "say 'TAP version 13'",
            "say '1..\(entries.count)'",
        ]
        for (index, entry) in entries.enumerated() {
            let number = index + 1
            if let builtIn, let missing = entry.kernelOptions.first(where: { !builtIn.contains($0) }) {
                lines.append("skip \(number) \(entry.name) 'needs \(missing), which this kernel lacks'")
                continue
            }
            let guards = entry.cpuFlags.map { "grep -qw \($0) /proc/cpuinfo" }
            let run = "run \(number) \(entry.name) \(entry.statusCountsFailures ? 0 : 1) " + entry.command.joined(separator: " ")
            if guards.isEmpty {
                lines.append(run)
            } else {
                lines.append("if \(guards.joined(separator: " && ")); then \(run); else skip \(number) \(entry.name) 'needs the CPU flag(s) \(entry.cpuFlags.joined(separator: ", "))'; fi")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
