import DaxRig
import Foundation
import Testing
import DaxRigSupport

/// What a typo on the command line does, through the real binary: README's table says
/// bad usage exits 2, like every other input daxrig refuses; ArgumentParser's own
/// status for a usage error is 64, which is what these exited with before.
@Suite(.timed) struct UsageIntegrationTests {
    @Test(arguments: [
        (["run", "--no-such-option"], "Unknown option '--no-such-option'"),
        (["run", "--processes", "abc"], "--processes takes numbers"),
        (["run", "--backings", "tmpfs"], "tmpfs"),
        (["no-such-command"], "Unexpected argument 'no-such-command'"),
        (["report", "show"], "name a run, or give --last"),
        (["bisect", "start"], "Usage: daxrig bisect start"),
    ])
    func usageErrorsExitTwoNamingWhatWasWrong(_ arguments: [String], _ said: String) throws {
        let output = try Rig.run(arguments)
        #expect(output.status == 2, "\(arguments): \(output.status) \(output.standardError)")
        #expect(output.standardError.contains(said), "\(output.standardError)")
    }

    @Test func helpStillExitsZero() throws {
        let output = try Rig.run(["run", "--help"])
        #expect(output.status == 0)
        #expect(output.standardOutput.contains("USAGE: daxrig run"))
    }
}
