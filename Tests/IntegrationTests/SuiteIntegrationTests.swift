import Foundation
import Testing
import DaxRigSupport

/// `[[suite]]` for real (issue 17): the kernel's own mm selftests built from the default
/// kernel's tree and run in its guest, compared test by test with the committed
/// results; a KTAP test binary of our own that fails, crashes the kernel mid-suite, or
/// prints a plan its results do not match; and a command that is not there.
@Suite(.serialized, .timed) struct SuiteIntegrationTests {
    struct Report: Decodable {
        struct Suite: Decodable {
            var name: String
            var passed: Bool
            var ended: String?
            var tests: [Test]
        }
        struct Test: Decodable {
            var path: String
            var status: String
            var detail: String
        }
        var passed: Bool
        var suites: [Suite]
    }

    static func run(_ spec: String, _ extra: [String] = []) throws -> (Command.Output, Report?) {
        let output = try Rig.run(["run", "--spec", spec, "--json"] + extra)
        return (output, try? JSONDecoder().decode(Report.self, from: Data(output.standardOutput.utf8)))
    }

    /// The test binary (Tests/Support/ktap-suite.c), static, in a scratch directory with a spec.
    static func ownSuite(_ name: String, spec: String, list: String? = nil) throws -> URL {
        let directory = try Rig.scratch(name)
        try Command("gcc", ["-static", "-O1", "-Wall", "-o", directory.appendingPathComponent("ktap-suite").path,
                            Rig.packageRoot.appendingPathComponent("Tests/Support/ktap-suite.c").path]).run()
        try Files.write(spec, to: directory.appendingPathComponent("suites.toml").path)
        if let list { try Files.write(list, to: directory.appendingPathComponent("crash.tests").path) }
        return directory
    }

    @Test func theKernelsOwnMmSelftestsOnTheDefaultKernelGiveTheCommittedResults() throws {
        _ = try Rig.defaultKernel()
        let store = try Rig.scratch("suite-mm")
        defer { Files.removeDirectory(store.path) }
        let (output, report) = try Self.run(Rig.packageRoot.appendingPathComponent("kernels/specs/selftests-mm.toml").path,
                                            ["--store", store.appendingPathComponent("r.sqlite").path])
        let suite = try #require(report?.suites.first, "\(output.standardError.suffix(3000))")
        let expected = try Files.read(Rig.packageRoot.appendingPathComponent("kernels/selftests/mm-6.1-default.results").path)
            .split(separator: "\n").filter { !$0.hasPrefix("#") }
            .map { $0.split(whereSeparator: \.isWhitespace).map(String.init) }
        let got = suite.tests.map { [$0.path, $0.status] }
        for (line, test) in zip(expected, got) where line != test {
            Issue.record("expected \(line.joined(separator: " ")), got \(test.joined(separator: " ")): \(suite.tests.first { $0.path == test[0] }?.detail ?? "")")
        }
        #expect(got.count == expected.count)
        #expect(output.status == 0 && suite.passed, "\(output.standardOutput.suffix(2000))")
        // The known failures say why, from the committed file, with no host path in them.
        let known = try #require(suite.tests.first { $0.path == "khugepaged" })
        #expect(known.status == "DONE" && known.detail.contains("expected failure (mm-6.1.expected-failures)") && known.detail.contains("Swapout"))
        #expect(!suite.tests.contains { $0.detail.contains(Rig.packageRoot.path) })
        // Stored as the run's subtests under the suite's name.
        let stored = try Command("sqlite3", [store.appendingPathComponent("r.sqlite").path,
                                             "select count(*) from test where path like 'selftests-mm.%'"]).run().standardOutput
        #expect(Int(stored.trimmingCharacters(in: .whitespacesAndNewlines)) == expected.count, "\(stored)")
    }

    @Test func ownKTAPFailuresAMissingCommandAndABadPlanAreEachTheirOwnVerdict() throws {
        let directory = try Self.ownSuite("suite-own", spec: """
            name = "own-suites"
            [[suite]]
            name = "fails"
            command = "/root/t/ktap-suite fail"
            add = ["ktap-suite:/root/t/ktap-suite"]
            [[suite]]
            name = "missing"
            command = "/root/t/no-such-program"
            [[suite]]
            name = "mismatch"
            command = "/root/t/ktap-suite mismatch"
            add = ["ktap-suite:/root/t/ktap-suite"]
            [[suite]]
            name = "floods"
            command = "/root/t/ktap-suite pass; seq 1 400000"
            add = ["ktap-suite:/root/t/ktap-suite"]
            [[suite]]
            name = "passes"
            command = "/root/t/ktap-suite pass"
            add = ["ktap-suite:/root/t/ktap-suite"]
            """)
        defer { Files.removeDirectory(directory.path) }
        // 2.7 MB of flood against a 1 MiB limit (64 MiB unless lowered).
        let output = try Rig.run(["run", "--spec", directory.appendingPathComponent("suites.toml").path, "--json", "--no-store"],
                                 environment: ["DAXRIG_SUITE_OUTPUT_LIMIT": "\(1 << 20)"])
        let report = try? JSONDecoder().decode(Report.self, from: Data(output.standardOutput.utf8))
        let suites = try #require(report?.suites, "\(output.standardError.suffix(3000))")
        #expect(output.status == 1 && suites.map(\.name) == ["fails", "missing", "mismatch", "floods", "passes"])
        func status(_ suite: Int, _ path: String) -> String? { suites[suite].tests.first { $0.path == path }?.status }
        let flood = try #require(suites[3].tests.first { $0.path == "ktap" })
        #expect(flood.status == "ERROR" && flood.detail.contains("more than 1 MiB"), "\(flood.detail.prefix(500))")
        #expect(status(3, "nested.inner_one") == "PASS", "what came before the flood is judged")
        #expect(status(0, "first") == "PASS" && status(0, "second") == "FAIL" && status(0, "third") == "SKIP")
        #expect(suites[0].tests.first { $0.path == "second" }?.detail.contains("expected 4096 bytes back, read 0") == true)
        let missing = try #require(suites[1].tests.first { $0.path == "ktap" })
        #expect(missing.status == "ERROR" && missing.detail.contains("exit status 127") && missing.detail.contains("no-such-program: not found"), "\(missing.detail)")
        #expect(status(2, "first") == "PASS" && status(2, "ktap") == "ERROR")
        #expect(suites[2].tests.first { $0.path == "ktap" }?.detail.contains("1..3") == true)
        #expect(suites[4].passed && status(4, "nested.inner_two") == "PASS" && status(4, "flat") == "PASS")
        #expect(!suites[0].passed && !suites[1].passed && !suites[2].passed)
    }

    /// The DAX cases pass on xfs and ext4 DAX, and the same program run on tmpfs fails
    /// the cases that need DAX: they can fail.
    @Test func theDaxCasesPassOnBothFileSystemsAndFailWhereThereIsNoDax() throws {
        let directory = try Rig.scratch("suite-dax")
        defer { Files.removeDirectory(directory.path) }
        let shipped = try Files.read(Rig.packageRoot.appendingPathComponent("kernels/specs/dax-suites.toml").path)
        try Files.write(shipped + "\n[[suite]]\nname = \"dax-cases-tmpfs\"\ncommand = \"/init dax-cases /tmp\"\n",
                        to: directory.appendingPathComponent("dax.toml").path)
        let (output, report) = try Self.run(directory.appendingPathComponent("dax.toml").path, ["--no-store"])
        let suites = try #require(report?.suites, "\(output.standardError.suffix(3000))")
        #expect(suites.map(\.name) == ["dax-cases-xfs", "dax-cases-ext4", "dax-cases-tmpfs"])
        for suite in suites.prefix(2) {
            #expect(suite.passed && suite.tests.count == 8, "\(suite.name): \(suite.tests.filter { $0.status != "PASS" })")
        }
        // xfs (2 MiB stripes) aligns the file, so its faults are PMDs; ext4 often aligns
        // nothing, and then there is nothing to judge.
        #expect(suites[0].tests.first { $0.path == "faults-are-pmds" }?.status == "PASS")
        #expect(["PASS", "SKIP"].contains(suites[1].tests.first { $0.path == "faults-are-pmds" }?.status ?? ""))
        let tmpfs = Dictionary(uniqueKeysWithValues: suites[2].tests.map { ($0.path, $0) })
        #expect(tmpfs["map-sync"]?.status == "FAIL" && tmpfs["map-sync"]?.detail.contains("mmap") == true, "\(suites[2].tests)")
        #expect(tmpfs["odirect-read-into-dax-mapping"]?.status == "FAIL")
        #expect(tmpfs["fork-after-pmd-fault"]?.status == "PASS" && tmpfs["map-sync-refused-off-dax"]?.status == "PASS")
        #expect(output.status == 1)
    }

    /// faults-are-pmds 100 times in one guest on xfs: every run PASS, with its two
    /// witnesses in its lines. Its VmPTE readings used to allocate, and a heap grown into
    /// a fresh 2 MiB region made a PTE table the window did not: 6 false FAILs in 60 runs,
    /// the faults showing both regions mapped as PMDs all the same. A case that names no
    /// case is refused with the list.
    @Test func faultsArePmdsJudgesTheKernelNotItsOwnReadings() throws {
        let loop = "for i in $(seq 100); do /init dax-cases /mnt/pmem faults-are-pmds; done; /init dax-cases /mnt/pmem no-such-case"
        let output = try Rig.run(["boot", "--", "sh", "-c", loop])
        let lines = output.standardOutput.split(separator: "\n").map(String.init)
        let verdicts = lines.filter { $0.hasPrefix("ok ") || $0.hasPrefix("not ok ") }
        #expect(verdicts.count == 100 && verdicts.allSatisfy { $0 == "ok 1 faults-are-pmds" },
                "\(lines.filter { !$0.hasPrefix("ok ") && !$0.hasSuffix("was one") }.prefix(8))")
        let told = lines.filter { $0.contains("page tables grew") }
        #expect(told.count == 100 && told.allSatisfy { $0.contains("grew 0 bytes") && $0.contains("2 of its 2") }, "\(told.prefix(3))")
        #expect(lines.last == "Bail out! no DAX case named no-such-case; the cases: " + [
            "faults-are-pmds", "fork-after-pmd-fault", "odirect-read-into-dax-mapping", "odirect-write-from-dax-mapping",
            "read-only-pmd-to-read-write", "map-sync", "map-sync-refused-off-dax"].joined(separator: ", "))
        #expect(output.status == 2)
    }

    /// A test that panics the kernel (LKDTM) in the middle of a provider's list: FAIL with
    /// the panic's excerpt, the tests after it MISS, the one before it PASS. The runner's
    /// lines reach the kernel log before each test starts, so the test is named even
    /// though its own output never left the guest.
    @Test func aKernelCrashMidSuiteFailsThatTestAndMissesTheRest() throws {
        let directory = try Self.ownSuite("suite-crash", spec: """
            name = "crash-suite"
            [[suite]]
            name = "mm-crash"
            provider = "selftests-mm"
            tests = "crash.tests"
            add = ["ktap-suite:/root/t/ktap-suite"]
            timeout = 300
            """, list: """
            map_fixed_noreplace  -  ./map_fixed_noreplace
            crash_through_lkdtm  -  /root/t/ktap-suite crash
            mremap_dontunmap     -  ./mremap_dontunmap
            madv_populate        -  ./madv_populate
            """)
        defer { Files.removeDirectory(directory.path) }
        let (output, report) = try Self.run(directory.appendingPathComponent("suites.toml").path, ["--no-store"])
        let suite = try #require(report?.suites.first, "\(output.standardError.suffix(3000))")
        #expect(output.status == 1 && suite.ended == "kernel-crash")
        // The binary's own first result is its nested subtest when the channel got it
        // before the panic (it does, or not, by a race in the guest): PASS if there.
        let inner = suite.tests.filter { $0.path.hasPrefix("crash_through_lkdtm.") }
        #expect(inner.allSatisfy { $0.path == "crash_through_lkdtm.before_the_crash" && $0.status == "PASS" })
        let outer = suite.tests.filter { !$0.path.hasPrefix("crash_through_lkdtm.") }
        #expect(outer.map(\.path) == ["map_fixed_noreplace", "crash_through_lkdtm", "mremap_dontunmap", "madv_populate", "kernel-log-clean"],
                "\(suite.tests.map { "\($0.status) \($0.path): \($0.detail.prefix(200))" })")
        #expect(outer.map(\.status) == ["PASS", "FAIL", "MISS", "MISS", "FAIL"])
        let crashed = try #require(suite.tests.first { $0.path == "crash_through_lkdtm" })
        #expect(crashed.detail.contains("Kernel panic - not syncing: dumptest") && crashed.detail.contains("lkdtm_PANIC"), "\(crashed.detail)")
    }
}
