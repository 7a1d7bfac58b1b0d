import DaxRigSupport
import Foundation
import Testing
@testable import DaxRigRun

/// `[[suite]]` sections and the provider's list of tests: what parses, what is refused
/// with the line, and the runner the list becomes.
@Suite struct SuiteSpecTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func spec(_ text: String) throws -> TestSpec {
        try TestSpec.parse(text, path: Self.root.appendingPathComponent("kernels/specs/t.toml").path)
    }

    func refusal(_ text: String) -> String {
        do {
            _ = try spec(text)
            return "parsed"
        } catch let error as InputFileError {
            return error.description
        } catch {
            return "not an InputFileError: \(error)"
        }
    }

    @Test func aSuiteOnlySpecParsesWithItsDefaults() throws {
        let parsed = try spec("[[suite]]\nname = \"mine\"\ncommand = \"/root/t/ktap-test\"\nexpect = [\"one\", \"two\"]\n")
        let suite = try #require(parsed.suites.first)
        #expect(suite.name == "mine" && suite.command == "/root/t/ktap-test" && suite.fileSystem == .xfs && suite.memoryMiB == 1024)
        #expect(suite.counted == .named(["one", "two"]))
        #expect(parsed.only(["mine"]).suites.count == 1 && parsed.only(["other"]).suites.isEmpty)
    }

    @Test(arguments: [
        ("[[suite]]\ncommand = \"x\"\n", "needs a name"),
        ("[[suite]]\nname = \"a.b\"\ncommand = \"x\"\n", "needs a name"),
        ("[[suite]]\nname = \"a\"\n", "needs a command or a provider"),
        ("[[suite]]\nname = \"a\"\ncommand = \"x\"\nprovider = \"selftests-mm\"\n", "both a command and a provider"),
        ("[[suite]]\nname = \"a\"\nprovider = \"selftests-mm\"\n", "needs its list of tests"),
        ("[[suite]]\nname = \"a\"\nprovider = \"kunit\"\n", "is not one of selftests-mm"),
        ("[[suite]]\nname = \"a\"\ncommand = \"x\"\nbacking = \"tmpfs\"\n", "FS/DAX mounted"),
        ("[[suite]]\nname = \"a\"\ncommand = \"x\"\nadd = [\"no-such-file\"]\n", "no-such-file"),
        ("[[suite]]\nname = \"a\"\ncommand = \"x\"\nmemory = \"1K\"\n", "256M to 1T"),
        ("[[suite]]\nname = \"a\"\ncommand = \"x\"\nexpect = []\n", "either [\"all-pass\"]"),
        ("[[suite]]\nname = \"a\"\ncommand = \"x\"\ntest-timeout = 0\n", "use 1 to 86400"),
        ("[[suite]]\nname = \"a\"\ncommand = \"x\"\nexpected-failures = \"../selftests/nope\"\n", "nope"),
        ("[[suite]]\nname = \"a\"\ncommand = \"x\"\nwhat = 1\n", "unknown key"),
        ("[[suite]]\nname = \"a\"\ncommand = \"x\"\n[[suite]]\nname = \"a\"\ncommand = \"y\"\n", "two runs are named 'a'"),
    ])
    func badSuitesAreRefusedNamingWhatIsWrong(_ text: String, _ says: String) {
        let message = refusal(text)
        #expect(message.contains(says), "\(message)")
    }

    @Test func expectedFailuresNeedAReasonEach() throws {
        let parsed = try SuiteSpec.expectedFailures("# known\nhugepage-shm needs SysV shm  # why\n\nmremap_test.x  2 GiB maps\n", path: "f")
        #expect(parsed == ["hugepage-shm": "needs SysV shm", "mremap_test.x": "2 GiB maps"])
        #expect(throws: InputFileError.self) { try SuiteSpec.expectedFailures("lonely-test\n", path: "f") }
    }

    @Test func theShippedListParsesAndBecomesARunnerThatSkipsWhatTheKernelLacks() throws {
        let list = try SelftestList.load(Self.root.appendingPathComponent("kernels/selftests/mm.tests").path)
        #expect(list.entries.count > 30 && list.entries.first?.name == "hugepage-mmap")
        #expect(list.setup == [["truncate", "-s", "512M", "/mnt/pmem/gup-dax"]])
        let script = list.script(directory: "/root/selftests/mm", suite: "mm", testTimeout: 99, builtIn: ["CONFIG_HUGETLBFS", "CONFIG_TRANSPARENT_HUGEPAGE"])
        #expect(script.contains("say '1..\(list.entries.count)'"))
        #expect(script.contains("run 1 hugepage-mmap 1 ./hugepage-mmap"))
        #expect(script.contains("khugepaged 0 ./khugepaged"))
        #expect(script.contains("skip 2 hugepage-shm 'needs CONFIG_SYSVIPC, which this kernel lacks'"))
        #expect(script.contains("timeout 99 "))
        #expect(script.contains("if grep -qw la57 /proc/cpuinfo; then run "))
        // Without the kernel's config nothing is skipped on the host.
        #expect(!list.script(directory: "/d", suite: "mm", testTimeout: 1, builtIn: nil).contains("which this kernel lacks"))
    }

    @Test(arguments: [
        "a b\n", "a CONFIG_x ./a\n", "a cpu:LA57 ./a\n", "a - ./a;reboot\n", "a - ./a\na - ./b\n", "a% - ./a\n", "# nothing\n", "setup\n",
    ])
    func badListsAreRefused(_ text: String) {
        #expect(throws: InputFileError.self) { try SelftestList.parse(text, path: "l") }
    }
}
