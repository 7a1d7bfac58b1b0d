import DaxRig
import Foundation
import Testing

/// Real boots of the default kernel under libvirt, one per way a boot can end.
/// Each checks afterwards that its daxrig left no domain and no run files behind
/// (a kept console log aside, where the outcome is a failure).
@Suite(.serialized) struct BootIntegrationTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var pid: Int32
    }

    func boot(_ arguments: [String]) throws -> Run {
        _ = try Rig.defaultKernel()
        let (process, out, err) = try Rig.start(["boot"] + arguments)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                   stderr: String(decoding: stderr, as: UTF8.self), pid: process.processIdentifier)
    }

    func expectNothingLeft(_ run: Run, keptConsole: Bool) throws {
        #expect(try Rig.domainsLeft(by: run.pid).isEmpty)
        #expect(Rig.runFilesLeft(by: run.pid, allowing: keptConsole ? ["console.log"] : []).isEmpty)
        if keptConsole {
            #expect(run.stderr.contains("console log kept at"))
            // Clean up the kept log ourselves: the test is done with it.
            for dir in (try? FileManager.default.contentsOfDirectory(atPath: Rig.cache.runs.path)) ?? [] where dir.hasPrefix("run-\(run.pid)-") {
                try? FileManager.default.removeItem(at: Rig.cache.runs.appendingPathComponent(dir))
            }
        }
    }

    @Test func commandRunsWithDaxMountedAndItsOutputAndStatusComeBack() throws {
        let run = try boot(["--", "sh", "-c", "grep dax /proc/mounts; echo to-stderr >&2; stat -c %s /mnt/pmem"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("/dev/pmem0 /mnt/pmem xfs"))
        #expect(run.stdout.contains("dax=always"))
        #expect(run.stderr.contains("to-stderr"))
        #expect(!run.stdout.contains("to-stderr"))
        try expectNothingLeft(run, keptConsole: false)
    }

    @Test func ext4IsMountedWithDaxToo() throws {
        let run = try boot(["--fs", "ext4", "--", "sh", "-c", "grep pmem0 /proc/mounts"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("/dev/pmem0 /mnt/pmem ext4"))
        #expect(run.stdout.contains("dax"))
        try expectNothingLeft(run, keptConsole: false)
    }

    @Test func twoNvdimmsAreBothThereAndTheFirstIsMounted() throws {
        let run = try boot(["--pmem", "1G", "--pmem", "512M", "--", "sh", "-c", "ls /sys/bus/nd/devices; cat /proc/mounts"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("region0"))
        #expect(run.stdout.contains("region1"))
        #expect(run.stdout.contains("/dev/pmem0 /mnt/pmem xfs"))
        try expectNothingLeft(run, keptConsole: false)
    }

    @Test func failingCommandReturnsItsOwnStatus() throws {
        let run = try boot(["--fs", "none", "--", "sh", "-c", "echo about to fail; exit 7"])
        #expect(run.status == 7)
        #expect(run.stdout.contains("about to fail"))
        #expect(run.stderr.contains("the command failed with status 7"))
        try expectNothingLeft(run, keptConsole: true)
    }

    @Test func panicIsReportedAsAKernelCrashWithTheConsoleExcerpt() throws {
        let run = try boot(["--fs", "none", "--json", "--", "sh", "-c", "echo c > /proc/sysrq-trigger"])
        #expect(run.status == BootOutcome.ExitStatus.kernelCrash)
        #expect(run.stderr.contains("kernel panic"))
        #expect(run.stderr.contains("Kernel panic - not syncing: sysrq triggered crash"))
        let json = try #require(run.stdout.data(using: .utf8))
        let report = try JSONCoding.decoder.decode(BootReport.self, from: json)
        #expect(report.outcome == "kernel-crash")
        #expect(report.findings.first?.kind == .panic)
        try expectNothingLeft(run, keptConsole: true)
    }

    @Test func warningIsReportedButTheCommandsStatusStands() throws {
        let run = try boot(["--fs", "none", "--", "sh", "-c",
                            "mount -t debugfs none /sys/kernel/debug && echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT; echo still-here"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("still-here"))
        #expect(run.stderr.contains("daxrig: kernel warning at console line"))
        // A kernel report keeps the console log, whatever the command's status.
        try expectNothingLeft(run, keptConsole: true)
    }

    @Test func commandPastTheTimeoutIsATimeoutAndTheDomainIsDestroyed() throws {
        let run = try boot(["--fs", "none", "--timeout", "20", "--", "sleep", "600"])
        #expect(run.status == BootOutcome.ExitStatus.timeout)
        #expect(run.stderr.contains("timed out after 20 s (last phase: command)"))
        try expectNothingLeft(run, keptConsole: true)
    }

    @Test func kernelThatCannotStartTheAgentIsABootFailure() throws {
        let run = try boot(["--fs", "none", "--append", "rdinit=/daxrig-no-such-init", "--", "true"])
        #expect(run.status == BootOutcome.ExitStatus.bootFailure)
        #expect(run.stderr.contains("the guest did not boot to the agent"))
        // Without its rdinit, the kernel falls back to mounting a root device, of which there is none.
        #expect(run.stderr.contains("VFS: Unable to mount root fs"))
        try expectNothingLeft(run, keptConsole: true)
    }

    @Test func pmemTooSmallForXfsIsAnAgentFailureNamingTheStage() throws {
        let run = try boot(["--pmem", "256M", "--fs", "xfs", "--", "true"])
        #expect(run.status == BootOutcome.ExitStatus.agentFailure)
        #expect(run.stderr.contains("the guest agent failed at"))
        try expectNothingLeft(run, keptConsole: true)
    }

    @Test func unreachableLibvirtIsAnInfrastructureFailure() throws {
        _ = try Rig.defaultKernel()
        let output = try Rig.run(["boot", "--fs", "none", "--", "true"],
                                 environment: ["DAXRIG_LIBVIRT_URI": "qemu:///system?socket=/nonexistent/libvirt-sock"])
        #expect(output.status == BootOutcome.ExitStatus.infrastructure)
        #expect(output.standardError.contains("infrastructure failure"))
        #expect(output.standardError.contains("libvirt: cannot connect"))
    }

    @Test func interruptMidBootLeavesNothingBehind() throws {
        _ = try Rig.defaultKernel()
        let (process, _, err) = try Rig.start(["boot", "--fs", "none", "--", "sleep", "600"])
        // Wait until its domain exists, then Ctrl-C it.
        let deadline = Date().addingTimeInterval(60)
        while try Rig.domainsLeft(by: process.processIdentifier).isEmpty, Date() < deadline { usleep(100_000) }
        #expect(try !Rig.domainsLeft(by: process.processIdentifier).isEmpty)
        kill(process.processIdentifier, SIGINT)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 128 + SIGINT)
        #expect(stderr.contains("interrupted, cleaning up"))
        #expect(try Rig.domainsLeft(by: process.processIdentifier).isEmpty)
        #expect(Rig.runDirectoriesLeft(by: process.processIdentifier).isEmpty)
    }
}
