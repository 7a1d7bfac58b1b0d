import ArgumentParser
import DaxRig

@main
struct DaxRigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daxrig",
        abstract: "Build patched kernels, boot them with emulated pmem, and measure FS/DAX page-table sharing.",
        subcommands: [KernelCommand.self, BootCommand.self, RunCommand.self, MatrixCommand.self, NightlyCommand.self, BisectCommand.self, ReportCommand.self, CompareCommand.self, DoctorCommand.self, GcCommand.self]
    )
}
