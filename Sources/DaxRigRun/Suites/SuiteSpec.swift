import DaxRigImage
import DaxRigMachine
import DaxRigProtocol
import DaxRigSupport
import Foundation

/// A `[[suite]]` of a test spec: a command run in the guest whose KTAP (or TAP) output
/// daxrig judges test by test, or a provider daxrig builds such a command for (the
/// kernel's own mm selftests). The kernel's own tests catch what daxrig's workloads do
/// not look for, and linux-mm reviewers ask for their results (issue 17).
public struct SuiteSpec: Sendable, Equatable {
    /// Suites daxrig builds and runs itself.
    public enum Provider: String, Sendable, CaseIterable {
        /// tools/testing/selftests/mm (vm in 6.1) of the kernel under test's own tree,
        /// built on the host, statically linked, run one test at a time as kselftest's
        /// runner does (SelftestList).
        case selftestsMM = "selftests-mm"
    }

    /// Which results count: every test's, or only the named tests'.
    public enum Counted: Sendable, Equatable {
        case all
        case named([String])
    }

    public var name: String
    /// Run by the guest's /bin/sh -c, in /root, with the pmem mounted at /mnt/pmem.
    public var command: String
    public var provider: Provider?
    /// The provider's list of tests (SelftestList), absolute.
    public var testList: String?
    /// Host files the suite needs in the guest (`add = ["HOST:GUEST"]`, HOST relative to the spec).
    public var additions: [GuestAddition]
    public var fileSystem: PmemSetup.FileSystem
    /// Seconds for the whole suite's boot.
    public var timeout: Double?
    /// Seconds per test, for a provider's tests.
    public var testTimeout: Int
    public var memoryMiB: Int
    public var counted: Counted
    /// Test path within the suite -> why it is known to fail on the kernels this spec is
    /// run on (the `expected-failures` file, one `TEST REASON` a line).
    public var expectedFailures: [String: String]
    /// Where the expected failures came from, for messages.
    public var expectedFailuresFile: String?

    public init(name: String, command: String, provider: Provider? = nil, testList: String? = nil, additions: [GuestAddition] = [],
                fileSystem: PmemSetup.FileSystem = .xfs, timeout: Double? = nil, testTimeout: Int = 120, memoryMiB: Int = 1024,
                counted: Counted = .all, expectedFailures: [String: String] = [:], expectedFailuresFile: String? = nil) {
        self.name = name
        self.command = command
        self.provider = provider
        self.testList = testList
        self.additions = additions
        self.fileSystem = fileSystem
        self.timeout = timeout
        self.testTimeout = testTimeout
        self.memoryMiB = memoryMiB
        self.counted = counted
        self.expectedFailures = expectedFailures
        self.expectedFailuresFile = expectedFailuresFile
    }

    static let keys = ["name", "command", "provider", "tests", "add", "backing", "timeout", "test-timeout", "memory", "expect", "expected-failures"]

    /// One `[[suite]]` section; paths in it are relative to the spec's directory.
    static func parse(_ section: TOMLSection, specDirectory: String) throws -> SuiteSpec {
        try section.onlyKeys(keys)
        guard let name = try section.string("name"), !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_".contains($0) }) else {
            throw section.error("name", "\(section.label) needs a name of letters, digits, '-' and '_'", hint: "e.g. name = \"selftests-mm\"")
        }
        func path(_ given: String) -> String {
            URL(fileURLWithPath: given, relativeTo: URL(fileURLWithPath: specDirectory, isDirectory: true)).standardizedFileURL.path
        }
        let provider = try section.choice("provider", Provider.self)
        let command = try section.string("command")
        switch (command, provider) {
        case (nil, nil): throw section.error(nil, "\(section.label) needs a command or a provider", hint: "command = \"/root/my-test\", or provider = \"selftests-mm\"")
        case (_?, _?): throw section.error("command", "\(section.label) has both a command and a provider", hint: "a provider makes its own command: drop one")
        default: break
        }
        if command?.trimmingCharacters(in: .whitespaces).isEmpty == true { throw section.error("command", "the command is empty") }
        let list = try section.string("tests").map(path)
        if provider != nil && list == nil {
            throw section.error("tests", "provider \(provider!.rawValue) needs its list of tests", hint: "tests = \"../selftests/mm.tests\"")
        }
        if let list, !Files.exists(list) { throw section.error("tests", "\(list) does not exist") }
        // Read now, not after the kernel's build: a bad list is the user's to fix (exit 2).
        if let list { _ = try SelftestList.load(list) }
        let additions = try (section.strings("add") ?? []).map { argument in
            do { return try GuestAddition.parse(argument, option: "add", workingDirectory: specDirectory) } catch let error as GuestAdditionError {
                throw section.error("add", error.description)
            }
        }
        let backing = try section.choice("backing", WorkloadSpec.Backing.self) ?? .fsdaxXfs
        guard let fileSystem = backing.pmemFileSystem else {
            throw section.error("backing", "a suite runs with FS/DAX mounted at /mnt/pmem; \(backing.rawValue) is not", hint: "fsdax-xfs or fsdax-ext4")
        }
        let timeout = try section.int("timeout").map(Double.init)
        if let timeout, !BootLimits.timeoutSeconds.contains(timeout) {
            throw section.error("timeout", "\(Int(timeout)) seconds: use 1 to \(Int(BootLimits.timeoutSeconds.upperBound))")
        }
        let testTimeout = try section.int("test-timeout") ?? 120
        guard (1...86_400).contains(testTimeout) else { throw section.error("test-timeout", "\(testTimeout) seconds: use 1 to 86400") }
        let memory = try section.byteSize("memory") ?? (1 << 30)
        guard memory >= 256 << 20, memory <= 1 << 40, memory % (1 << 20) == 0 else {
            throw section.error("memory", "\(ByteSize.format(memory)): use whole MiB from 256M to 1T")
        }
        let expect = try section.strings("expect") ?? ["all-pass"]
        let counted: Counted = expect == ["all-pass"] ? .all : .named(expect)
        if case let .named(names) = counted, names.contains("all-pass") || names.isEmpty || names.contains(where: { $0.isEmpty || $0.contains(where: \.isWhitespace) }) {
            throw section.error("expect", "either [\"all-pass\"] or the names of the tests that count", hint: "e.g. expect = [\"gup_test_u\", \"mremap_test\"]")
        }
        var failures: [String: String] = [:]
        let failuresFile = try section.string("expected-failures").map(path)
        if let failuresFile {
            do { failures = try Self.expectedFailures(Files.read(failuresFile), path: failuresFile) } catch let error as InputFileError {
                throw error
            } catch { throw section.error("expected-failures", "\(failuresFile): \(error)") }
        }
        return SuiteSpec(name: name, command: command ?? "", provider: provider, testList: list, additions: additions, fileSystem: fileSystem,
                         timeout: timeout, testTimeout: testTimeout, memoryMiB: Int(memory >> 20), counted: counted,
                         expectedFailures: failures, expectedFailuresFile: failuresFile)
    }

    /// `TEST REASON` per line (kdevops' expunge lists): a test path within the suite, white
    /// space, and why it fails; `#` starts a comment. A line without a reason is refused:
    /// an expected failure nobody can explain is a failure.
    public static func expectedFailures(_ text: String, path: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?
                .trimmingCharacters(in: .whitespaces) ?? ""
            guard !line.isEmpty else { continue }
            let parts = line.split(maxSplits: 1, whereSeparator: \.isWhitespace).map(String.init)
            guard parts.count == 2 else {
                throw InputFileError(file: path, line: index + 1, key: nil, message: "'\(line)' names a test without a reason",
                                     hint: "write TEST REASON, e.g. hugepage-shm needs CONFIG_SYSVIPC")
            }
            if SuiteJudge.reserved.contains(parts[0]) {
                throw InputFileError(file: path, line: index + 1, key: nil, message: "'\(parts[0])' is daxrig's own check of the suite, not a test",
                                     hint: "a crash, a bad plan or a kernel splat cannot be a known failure; list the suite's tests only")
            }
            result[parts[0]] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        return result
    }
}
