import DaxRigMachine
import DaxRigSupport
import Foundation
import Testing

/// `daxrig boot --dump-on-crash` (issue 16): the crashed guest's memory, kept with the run
/// in the format crash and drgn read, with the kernel's VMCOREINFO in it.
extension BootIntegrationTests {
    /// A panic halts the guest (panic=0) instead of rebooting it; the console watch ends
    /// the boot, daxrig dumps the memory kdump-compressed, and makedumpfile, which needs
    /// the VMCOREINFO to find the log buffer, reads the kernel's log back out of it.
    @Test func aPanicWithDumpOnCrashLeavesAVmcoreThatMakedumpfileReads() throws {
        let run = try boot(["--fs", "none", "--dump-on-crash", "--json", "--", "sh", "-c", "echo c > /proc/sysrq-trigger"])
        #expect(run.status == BootOutcome.Code.kernelCrash, "\(run.stderr.suffix(3000))")
        let report = try JSONCoding.decoder.decode(BootReport.self, from: try #require(run.stdout.data(using: .utf8)))
        #expect(report.findings.first?.kind == .panic)
        let vmcore = try #require(report.vmcore, "\(run.stderr.suffix(3000))")
        #expect(run.stderr.contains("daxrig: vmcore kept at \(vmcore)"))
        // The kdump-compressed header's signature.
        #expect(FileHandle(forReadingAtPath: vmcore)?.readData(ofLength: 8) == Data("KDUMP   ".utf8))
        let scratch = try Rig.scratch("dump")
        defer { Files.removeDirectory(scratch.path) }
        let dmesg = scratch.appendingPathComponent("dmesg.txt").path
        try Command("makedumpfile", ["--dump-dmesg", vmcore, dmesg]).run()
        let log = try Files.read(dmesg)
        #expect(log.contains("Kernel panic - not syncing: sysrq triggered crash"), "\(log.suffix(2000))")
        #expect(log.contains("Linux version \(report.kernelRelease ?? "?")"))
        try expectNothingLeft(run, keptConsole: true, alsoKept: ["vmcore"])
    }

    /// A kernel that panics before the agent starts is a boot failure (111) with or
    /// without --dump-on-crash: the halted guest is dumped, but the watch that stops it
    /// does not make an unbootable kernel a crash under test (a bisect would call it bad).
    @Test func aPanicBeforeTheAgentIsABootFailureAndItsVmcoreIsKept() throws {
        let run = try boot(["--fs", "none", "--dump-on-crash", "--append", "rdinit=/daxrig-no-such-init", "--", "true"])
        #expect(run.status == BootOutcome.Code.bootFailure, "\(run.stderr.suffix(3000))")
        #expect(run.stderr.contains("VFS: Unable to mount root fs"))
        #expect(run.stderr.contains("daxrig: vmcore kept at "), "\(run.stderr.suffix(3000))")
        try expectNothingLeft(run, keptConsole: true, alsoKept: ["vmcore"])
    }
}
