import ArgumentParser
import Foundation
import DaxRig
import DaxRigSupport

@main
struct DaxRigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daxrig",
        abstract: "Build patched kernels, boot them with emulated pmem, and measure FS/DAX page-table sharing.",
        subcommands: [KernelCommand.self, BootCommand.self, RunCommand.self, MatrixCommand.self, NightlyCommand.self, BisectCommand.self, ReportCommand.self, CompareCommand.self, DoctorCommand.self, GcCommand.self]
    )

    /// Ctrl-C and SIGTERM are daxrig's to handle in every subcommand, before any of
    /// them starts a child: `kernel build` had no handler, so a SIGINT sent to daxrig
    /// alone (a script, a test) killed it and left its make running, and one sent to a
    /// daxrig started with the signal blocked (by a parent thread's mask, which a child
    /// inherits) was never seen at all: the build ran to its end and exited 0.
    ///
    /// A usage error (an unknown option, a value that does not parse, a failed
    /// validation) exits 2, as every other input daxrig refuses: ArgumentParser's own
    /// status for them is 64 (EX_USAGE), which README's table of statuses never had,
    /// so a script that tested for 2 took a typo for a run.
    static func main() {
        Cleanup.shared.installSignalHandlers()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(ExitStatus.badInput.rawValue)
        }
    }
}
