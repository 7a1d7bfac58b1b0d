import DaxRig
import DaxRigProtocol
import Foundation
import Testing
import DaxRigImage
import DaxRigSupport
import DaxRigResults
import DaxRigRun
import DaxRigMachine

/// The shipped specs, run for real on the default (unpatched 6.1) kernel.
@Suite(.serialized, .timed) struct SpecIntegrationTests {
    static let specs = Rig.packageRoot.appendingPathComponent("kernels/specs")

    func run(_ spec: TestSpec) throws -> SpecResults {
        let kernel = try Rig.defaultKernel()
        let image = try ImageBuilder(cache: Rig.cache).build()
        return try SpecRunner(runner: GuestRunner(cache: Rig.cache)).run(spec, kernel: kernel.bzImage, image: image, timeout: 600) { _, _ in }
    }

    /// tmpfs, read-sparse, every-4k, unaligned and MAP_SYNC, each with the figures that
    /// say the mode really ran as named.
    @Test func everyModeRunsAndMeasuresWhatItNames() throws {
        let results = try run(TestSpec.load(Self.specs.appendingPathComponent("modes.toml").path))
        #expect(results.complete)
        for result in results.workloads {
            #expect(result.passed, "\(result.workload.spec.name): \(result.verdicts.filter { !$0.passed })")
        }
        func accounting(_ name: String) throws -> PmdAccounting {
            try #require(results.workloads.first { $0.workload.spec.name == name }?.report).accounting
        }
        // tmpfs maps 4 KiB pages: one PTE table per 2 MiB region per worker.
        #expect(try accounting("tmpfs-n8").fallbackPages == Array(repeating: 128, count: 8))
        // 16 GiB read through the huge zero page on a 2 GiB device: 16 PMD tables each.
        #expect(try accounting("read-sparse-n8").measuredPMDPages == 8 * 16)
        // A store to every 4 KiB page still takes one fault per 2 MiB: PMD mappings.
        #expect(try accounting("every-4k-n8").firstWorkerFaults == 128)
        // 2 MiB off the boundary: two PUD ranges, two PMD tables per worker, on both.
        #expect(try accounting("unaligned-fsdax-xfs-n8").measuredPMDPages == 16)
        #expect(try accounting("unaligned-hugetlbfs-n8").measuredPMDPages == 16)
        let mapSync = try #require(results.workloads.first { $0.workload.spec.name == "map-sync-n8" }?.report)
        #expect(mapSync.workers.allSatisfy { $0.mapErrno == 0 })
    }

    /// A spec's `cpus` is the vCPUs of its boots: the workers see that many CPUs online
    /// (3 here, where every other boot has 2), so a spec can spread sharers over more
    /// CPUs than the host has cores (benchmarks/zap-flush.sh runs 8).
    @Test func aSpecsCPUsAreWhatItsWorkersRunOn() throws {
        let spec = try TestSpec.parse("cpus = 3\n[[workload]]\nbacking = \"hugetlbfs\"\nprocesses = 4\nsize = \"64M\"\n", path: "cpus.toml")
        let results = try run(spec)
        let result = try #require(results.workloads.first)
        #expect(result.passed, "\(result.verdicts.filter { !$0.passed }) \(result.error ?? "")")
        #expect(result.report?.cpus == 3)
    }

    /// Synced data survives an abrupt power-off, and the check can tell when it does not:
    /// the unsynced control loses its words. Run through the CLI, whose own pid names its
    /// run directories: other suites boot guests from this test process at the same time.
    @Test func syncedDataSurvivesAPowerOffAndUnsyncedDataIsCaughtMissing() throws {
        _ = try Rig.defaultKernel()
        let directory = try Rig.scratch("persistence")
        defer { try? FileManager.default.removeItem(at: directory) }
        let specPath = directory.appendingPathComponent("persistence.toml").path
        let shipped = try Files.read(Self.specs.appendingPathComponent("persistence.toml").path)
        try Files.write(shipped + """

            [[persistence]]
            name = "control-unsynced"
            backing = "fsdax-xfs"
            sync = "none"
            size = "64M"
            """ + "\n", to: specPath)
        let (process, out, err) = try Rig.start(["run", "--spec", specPath, "--json", "--no-store"])
        let (data, errors) = Rig.finish(process, out, err)
        let stderr = String(decoding: errors, as: UTF8.self)
        // The control's data-intact fails, and only it: exit status 1.
        #expect(process.terminationStatus == 1, "\(stderr.suffix(2000))")
        let report = try JSONDecoder().decode(SpecReport.self, from: data)
        #expect(report.complete)
        #expect(report.persistence.count == 7)
        for row in report.persistence.dropLast() {
            #expect(row.verdicts.allSatisfy { $0.passed }, "\(row.name): \(row.verdicts) \(row.error ?? "")")
            // The write-after-writeback checks map 1 GiB; the others 256 MiB.
            #expect(row.bytes == (row.name.hasPrefix("rewrite-") ? 1 << 30 : 256 << 20) && row.mismatchedWords == 0 && row.verifySeconds != nil)
        }
        let control = try #require(report.persistence.last)
        #expect(control.name == "control-unsynced-fsdax-xfs-none")
        #expect(control.mismatchedWords.map { $0 > 0 } == true, "the unsynced control kept its data: the check cannot fail")
        #expect(control.verdicts.first { $0.expectation == .dataIntact }?.passed == false)
        #expect(Rig.runFilesLeft(by: process.processIdentifier).isEmpty)
        #expect(Rig.runDirectoriesLeft(by: process.processIdentifier).isEmpty)
    }

    /// The README's main command: the built-in default spec passes on the default kernel.
    @Test func defaultRunPassesOnTheDefaultKernel() throws {
        _ = try Rig.defaultKernel()
        let output = try Rig.run(["run", "--json"])
        #expect(output.status == 0, "\(output.standardError.suffix(2000))")
        let report = try JSONDecoder().decode(SpecReport.self, from: Data(output.standardOutput.utf8))
        #expect(report.spec == "default" && report.passed && report.complete)
        #expect(report.workloads.count == 12)
        let huge = try #require(report.workloads.first { $0.name == "hugetlbfs-n1000" })
        #expect(huge.pmdPagesMeasured.map { $0 <= 1 + Judge.sharingTolerance } == true)
        let xfs = try #require(report.workloads.first { $0.name == "fsdax-xfs-n1000" })
        #expect(xfs.pmdPagesMeasured == 1000)
    }

    @Test func badSpecIsRefusedWithItsLineBeforeAnyBoot() throws {
        let directory = try FileManager.default.url(for: .itemReplacementDirectory, in: .userDomainMask, appropriateFor: URL(fileURLWithPath: "/tmp"), create: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("bad.toml").path
        try "[[workload]]\nbacking = \"fsdax-xfs\"\nacess = \"every-4k\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let output = try Rig.run(["run", "--spec", path])
        #expect(output.status == 2)
        #expect(output.standardError.contains("\(path):3: acess: unknown key in [[workload]] #1"), "\(output.standardError)")
        #expect(!output.standardError.contains("[boot]"))
    }

    /// `--only` with a name no case has (the file's section name, not the case the run
    /// prints) is bad input: exit 2, the cases listed, nothing built or booted.
    @Test func onlyWithAnUnknownCaseIsRefusedWithTheCasesBeforeAnyBoot() throws {
        let spec = Self.specs.appendingPathComponent("adversarial.toml").path
        let output = try Rig.run(["run", "--spec", spec, "--only", "tlb-punch,f1-noncongruent-4k", "--no-store"])
        #expect(output.status == 2, "\(output.standardError)")
        #expect(output.standardError.contains("--only f1-noncongruent-4k: spec adversarial has no such case; it has f1-noncongruent-4k-n2, "),
                "\(output.standardError)")
        #expect(!output.standardError.contains("[boot]") && !output.standardError.contains("[compile]"))
    }
}

/// A worker the kernel kills while the others map (a SIGBUS from a DAX fault) must fail
/// the run and say which worker died of what, where, and that the page-table count is
/// not a measure of sharing. CI saw exactly these figures once on the unpatched kernel
/// (data-intact and private FAIL, -20 KiB of page tables) and nothing named the cause.
@Suite(.timed) struct WorkerDeathIntegrationTests {
    /// `daxrig run` of 10 processes on xfs with worker 3 given the fault `variable`
    /// injects: its exit status checked, the workload's row of the JSON report returned.
    static func run(injecting variable: String, expectingStatus status: Int32) throws -> ResultRow {
        _ = try Rig.defaultKernel()
        let output = try Rig.run(["run", "--backings", "fsdax-xfs", "--processes", "10", "--no-store", "--json"], environment: [variable: "3"])
        #expect(output.status == status, "\(output.standardError.suffix(2000))")
        let report = try JSONDecoder().decode(SpecReport.self, from: Data(output.standardOutput.utf8))
        return try #require(report.workloads.first { $0.name == "fsdax-xfs-n10" }, "\(output.standardOutput.prefix(2000))")
    }

    @Test(.timeLimit(.minutes(15))) func aWorkerKilledByASIGBUSWhileMappingIsNamedWithItsSignal() throws {
        let row = try Self.run(injecting: "DAXRIG_INJECT_SIGBUS", expectingStatus: 1)
        let verdicts = Dictionary(row.verdicts.map { ($0.expectation, $0) }) { first, _ in first }
        let intact = try #require(verdicts[DaxRigRun.Expectation.dataIntact])
        #expect(!intact.passed)
        #expect(intact.detail.contains("(first: worker 3 killed by signal \(SIGBUS), BUS_ADRERR at 0x"), "\(intact.detail)")
        #expect(intact.detail.contains("after 1 barrier)"), "\(intact.detail)")
        let counted = try #require(verdicts[DaxRigRun.Expectation.private])
        #expect(!counted.passed)
        #expect(counted.detail.contains("not a measure of sharing: 1 worker killed by a fault while the others mapped (first: worker 3)"), "\(counted.detail)")
        // The others are as they were: the kernel logged nothing, nothing leaked.
        #expect(verdicts[.kernelLogClean]?.passed == true && verdicts[.noLeak]?.passed == true, "\(row.verdicts)")
        #expect(row.notes?.contains { $0.hasPrefix("worker 3 was killed by signal \(SIGBUS) (Bus error): BUS_ADRERR at 0x") } == true, "\(row.notes ?? [])")
        #expect(row.notes?.contains { $0.hasPrefix("worker 3's SIGBUS was injected") } == true, "\(row.notes ?? [])")
    }

    /// A guest too small for its run: the OOM killer kills a worker (here one that takes
    /// memory until it is killed, DAXRIG_INJECT_OOM). Before, the workload went on with
    /// the rest and the run was a FAIL of the kernel (data-intact, kernel-log-clean); at
    /// N = 10,000 the killer ground through workers until the boot's timeout. Now the
    /// workload stops at the first kill and the run is the rig's ERROR, naming the kill.
    @Test(.timeLimit(.minutes(15))) func aGuestOutOfMemoryStopsTheWorkloadAsTheRigsError() throws {
        let row = try Self.run(injecting: "DAXRIG_INJECT_OOM", expectingStatus: 3)
        let error = try #require(row.error)
        #expect(error.contains("fsdax-xfs-n10: the guest ran out of memory with 10 workers (MemTotal "), "\(error)")
        #expect(error.contains("Out of memory: Killed process"), "\(error)")
        #expect(row.verdicts.isEmpty)
    }
}

extension WorkerDeathIntegrationTests {
    /// `daxrig run --dump-on-crash`: a kernel panic in the middle of a workload (worker 3
    /// panics it, DAXRIG_INJECT_PANIC) is the run's kernel crash, and the crashed guest's
    /// memory is kept beside its console log, where makedumpfile reads the panic back.
    @Test(.timeLimit(.minutes(15))) func aPanicMidRunLeavesAVmcoreWithDumpOnCrash() throws {
        _ = try Rig.defaultKernel()
        let output = try Rig.run(["run", "--backings", "fsdax-xfs", "--processes", "10", "--no-store", "--json", "--dump-on-crash"],
                                 environment: ["DAXRIG_INJECT_PANIC": "3"])
        #expect(output.status == 1, "\(output.standardError.suffix(2000))")
        let report = try JSONDecoder().decode(SpecReport.self, from: Data(output.standardOutput.utf8))
        let row = try #require(report.workloads.first { $0.name == "fsdax-xfs-n10" })
        #expect(row.error?.contains("kernel panic") == true, "\(row.error ?? "no error")")
        let line = try #require(output.standardError.split(separator: "\n").first { $0.hasPrefix("vmcore kept at ") }, "\(output.standardError.suffix(2000))")
        let vmcore = String(line.dropFirst("vmcore kept at ".count))
        let scratch = try Rig.scratch("run-dump")
        defer {
            Files.removeDirectory(scratch.path)
            Files.removeDirectory((vmcore as NSString).deletingLastPathComponent)
        }
        try Command("makedumpfile", ["--dump-dmesg", vmcore, scratch.appendingPathComponent("dmesg").path]).run()
        #expect(try Files.read(scratch.appendingPathComponent("dmesg").path).contains("Kernel panic - not syncing: sysrq triggered crash"))
    }
}
