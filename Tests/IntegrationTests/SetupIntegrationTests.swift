import DaxRig
import Foundation
import Testing
import DaxRigSupport

/// scripts/setup.sh as a real Debian 12 runs it (issue 14, item 12): there python3 is
/// Debian's, externally managed (PEP 668), and `pip install` into it fails, which
/// stopped setup before it finished. Run with only the system's directories on PATH
/// and a cache of its own, setup makes its virtual environment with the pinned report
/// consumers, and a second run finds it and installs nothing.
@Suite(.timed) struct SetupIntegrationTests {
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/lib/python3.11/EXTERNALLY-MANAGED"), "Debian's python3 is externally managed here"))
    func setupInstallsTheReportConsumersBesideAnExternallyManagedPython() throws {
        let cache = try Rig.scratch("setup")
        defer { try? FileManager.default.removeItem(at: cache) }
        let environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DAXRIG_CACHE": cache.path, "HOME": cache.path]
        // What main's setup did: pip into the system python, refused.
        let refused = try Command("/usr/bin/python3", ["-m", "pip", "install", "--quiet", "junitparser"], environment: environment).runAllowingFailure()
        #expect(refused.status != 0)
        let setup = Rig.packageRoot.appendingPathComponent("scripts/setup.sh").path
        let first = try Command("/bin/bash", [setup], environment: environment).runAllowingFailure()
        #expect(first.status == 0, "\(first.standardOutput.suffix(1000))\(first.standardError.suffix(2000))")
        #expect(first.standardOutput.contains("junitparser==5.0.3 kcidb-io==141"))
        let python = cache.appendingPathComponent("python/bin/python3").path
        let versions = try Command(python, ["-c", "import importlib.metadata as m; print(m.version('junitparser'), m.version('kcidb-io'))"]).run()
        #expect(versions.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "5.0.3 141")
        let again = try Command("/bin/bash", [setup], environment: environment).runAllowingFailure()
        #expect(again.status == 0 && !again.standardOutput.contains("installing"), "\(again.standardOutput)")
    }
}
