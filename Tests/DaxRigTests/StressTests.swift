import DaxRigProtocol
import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigMachine
@testable import DaxRigSupport
@testable import DaxRigResults
@testable import DaxRigRun

/// [[stress]] sections, the stripe layout and pattern the guest works by, and how a
/// stress report is judged and shown.
@Suite struct StressTests {
    /// TestSpecTests' readers: "t.toml", and the error a spec gives.
    let specs = TestSpecTests()
    func parse(_ text: String) throws -> TestSpec { try specs.parse(text) }
    func failure(_ text: String) -> InputFileError? { specs.failure(text) }

    // MARK: Parsing

    @Test func defaultsGiveOneRunOnXfsWithTheDefaultOps() throws {
        let spec = try parse("[[stress]]\n")
        #expect(spec.stress == [StressCase(spec: StressSpec(name: "stress", backing: .fsdaxXfs, bytes: 1 << 30, sharers: 8,
                                                              ops: StressSpec.defaultOps, soakSeconds: 20))])
        #expect(spec.stress[0].expectations == [.dataIntact, .noLeak, .kernelLogClean])
        #expect(spec.stress[0].spec.processes == 8 + 9)
    }

    @Test func backingsExpandAndKeysApply() throws {
        let spec = try parse("""
            [defaults]
            size = "512M"
            expect = ["shares"]

            [[stress]]
            name = "soak"
            backing = ["fsdax-xfs", "fsdax-ext4"]
            size = "2G"
            sharers = 3
            ops = ["mremap", "truncate"]
            soak = 60
            expect = ["private", "data-intact"]
            """)
        #expect(spec.stress.map(\.spec.name) == ["soak-fsdax-xfs", "soak-fsdax-ext4"])
        #expect(spec.stress[1].spec == StressSpec(name: "soak-fsdax-ext4", backing: .fsdaxExt4, bytes: 2 << 30, sharers: 3, ops: [.mremap, .truncate], soakSeconds: 60))
        // [defaults] is the workloads': a stress run's size and expectations are its own.
        #expect(spec.stress[0].expectations == [.private, .dataIntact])
    }

    @Test func theShippedStressSpecRunsEveryOpOnBothFileSystems() throws {
        let spec = try TestSpec.load(TestSpecTests.specs.appendingPathComponent("stress.toml").path)
        #expect(spec.stress.map(\.spec.name) == ["stress-fsdax-xfs", "stress-fsdax-ext4"])
        #expect(spec.stress.allSatisfy { $0.spec.ops == StressSpec.defaultOps && $0.spec.sharers == 8 && $0.spec.soakSeconds == 20 })
        #expect(spec.stress.allSatisfy { $0.expectations == [.dataIntact, .noLeak, .kernelLogClean] })
        #expect(spec.workloads.isEmpty && spec.persistence.isEmpty)
    }

    @Test func badSectionsNameTheLineAndTheKey() {
        let unknown = failure("name = \"x\"\n\n[[stress]]\nsoak = 5\nsharer = 4\n")
        #expect(unknown?.line == 5)
        #expect(unknown?.key == "sharer")
        #expect(unknown?.description.hasPrefix("t.toml:5: sharer: unknown key in [[stress]] #1 (known keys: name, backing, size, sharers, ops, soak, offsets, shifts, expect") == true)

        let backing = failure("[[stress]]\nbacking = \"hugetlbfs\"\n")
        #expect(backing?.line == 2)
        #expect(backing?.description == "t.toml:2: backing: stress runs on FS/DAX: hugetlbfs is not (use fsdax-xfs or fsdax-ext4)")

        let size = failure("[[stress]]\nsoak = 5\nsize = \"1536M\"\n")
        #expect(size?.line == 3)
        #expect(size?.description.contains("1.5 GiB is not a whole number of GiB from 1G to 128 GiB") == true)

        let sharers = failure("[[stress]]\nsharers = 300\n")
        #expect(sharers?.key == "sharers")
        #expect(sharers?.description.contains("300 sharers: use 0 to 256") == true)

        let op = failure("[[stress]]\nops = [\"munmap\", \"madvise\"]\n")
        #expect(op?.line == 2)
        #expect(op?.description.contains("'madvise' is not one of munmap, mprotect, mremap, madv-dontneed, madv-cold, madv-pageout, truncate, punch-hole, fork") == true)

        let twice = failure("[[stress]]\nops = [\"fork\", \"truncate\", \"fork\"]\n")
        #expect(twice?.description == "t.toml:2: ops: 'fork' is listed twice (one mutator per op)")

        let nothing = failure("[[stress]]\nsharers = 0\nops = []\n")
        #expect(nothing?.key == "sharers")

        let soak = failure("timeout = 300\n[[stress]]\nsoak = 600\n")
        #expect(soak?.line == 3)
        #expect(soak?.description.contains("600 seconds: use 1 to 180 (the boot's timeout, 300 s, less 2 minutes)") == true)

        let type = failure("[[stress]]\nsoak = \"20s\"\n")
        #expect(type?.description == "t.toml:2: soak: must be an integer, not string")

        let clash = failure("[[workload]]\nname = \"stress\"\nbacking = \"tmpfs\"\nprocesses = 1\n[[stress]]\nname = \"stress-n1\"\n")
        #expect(clash?.description.contains("two runs are named 'stress-n1'") == true)
    }

    @Test func overridesFilterAndResizeStressRuns() throws {
        let spec = try parse("[[workload]]\nbacking = \"hugetlbfs\"\n[[stress]]\nbacking = [\"fsdax-xfs\", \"fsdax-ext4\"]\n")
        #expect(try spec.overriding(processes: nil, size: nil, backings: [.fsdaxExt4]).stress.map(\.spec.name) == ["stress-fsdax-ext4"])
        #expect(try spec.overriding(processes: [4], size: 2 << 30, backings: nil).stress.allSatisfy { $0.spec.bytes == 2 << 30 && $0.spec.sharers == 8 })
        #expect(throws: SpecOverrideError.self) { try spec.overriding(processes: nil, size: 512 << 20, backings: nil) }
        #expect(spec.caseName(of: "stress-fsdax-xfs.no-leak") == "stress-fsdax-xfs")
        #expect(spec.only(["stress-fsdax-ext4"]).stress.count == 1)
        #expect(spec.only(["stress-fsdax-ext4"]).workloads.isEmpty)
        // 17 processes mapping 1 GiB, by the workloads' rule; the hugetlbfs workload's 1 GiB of huge pages is more.
        #expect(spec.only(["stress-fsdax-ext4"]).guestMemoryMiB == WorkloadRunner.memoryMiB(for: [spec.stress[1].mapping]))
    }

    // MARK: Layout and pattern

    /// Stress geometry: offsets below one stripe, whose process's mapping then holds
    /// only part of the file's first stripe, so the layout starts at file stripe 1; the
    /// file is that much longer; shifts move each process's home and away addresses.
    @Test func offsetsSkipTheFirstStripeAndBadOnesAreRefused() throws {
        let spec = try parse("[[stress]]\nsharers = 2\nops = [\"munmap\"]\noffsets = [0, \"4K\"]\nshifts = [0, \"2M\"]\n")
        let stress = try #require(spec.stress.first?.spec)
        #expect(stress.geometry == MappingGeometry(fileOffsets: [0, 4096], addressShifts: [0, 2 << 20]))
        #expect(stress.stripeBase == 1 && stress.layout.stripes == 511)
        #expect(stress.mapping.fileBytes == (1 << 30) + 4096)
        #expect(stress.mapping.addresses(of: 1) == [(1 << 40) + (2 << 20)])
        #expect(StressSpec(name: "u", backing: .fsdaxXfs).stripeBase == 0)
        let old = #"{"name":"s","backing":"fsdax-xfs","bytes":1073741824,"sharers":1,"ops":["fork"],"soakSeconds":5}"#
        #expect(try JSONDecoder().decode(StressSpec.self, from: Data(old.utf8)).geometry == .uniform)
        let far = failure("[[stress]]\noffsets = [0, \"2M\"]\n")
        #expect(far?.line == 2 && far?.description.contains("2 MiB or more") == true, "\(String(describing: far))")
        let cuts = failure("[[stress]]\nops = [\"truncate\", \"tlb-truncate\"]\n")
        #expect(cuts?.line == 2 && cuts?.description.contains("both need the file's last stripe") == true)
        let layout = StressLayout(stripes: 512, sharers: 0, ops: [.munmap, .tlbTruncate])
        #expect(layout.scratch[1] == 511 && layout.scratch[0] != 511)
        let ragged = failure("[[stress]]\nshifts = [100]\n")
        #expect(ragged?.line == 2 && ragged?.description.contains("4 KiB pages") == true)
    }

    @Test func everyStripeHasOneOwnerAndTheTruncateScratchIsLast() {
        let ops = StressSpec.defaultOps
        let layout = StressLayout(stripes: 512, sharers: 8, ops: ops)
        let processes = 8 + ops.count
        #expect(layout.processes == processes)
        #expect(layout.owners.count == 512 && layout.owners.allSatisfy { (0..<processes).contains($0) })
        let truncate = 8 + ops.firstIndex(of: .truncate)!
        #expect(layout.scratch[truncate] == 511)
        #expect(layout.scratch.prefix(8).allSatisfy { $0 == nil })
        let scratch = layout.scratch.compactMap { $0 }
        #expect(scratch.count == ops.count && Set(scratch).count == ops.count)
        // Holes are punched in the middle of the file, not at its end.
        #expect(layout.scratch[8 + ops.firstIndex(of: .punchHole)!].map { $0 > 0 && $0 < 511 } == true)
        #expect(layout.stable.count == 512 - ops.count)
        #expect(!layout.stable.contains(511))
        let share = (512 - ops.count) / processes
        for process in 0..<processes {
            let own = layout.stable(of: process)
            #expect(own.count >= share && own.count <= share + 1, "process \(process) owns \(own.count)")
            #expect(own.allSatisfy { layout.owners[$0] == process && !layout.isScratch($0) })
        }
        // Round robin: neighbouring stable stripes belong to different processes.
        #expect(zip(layout.stable, layout.stable.dropFirst()).allSatisfy { layout.owners[$0] != layout.owners[$1] })
    }

    @Test func aLayoutWithoutTruncateOrMutatorsHasNoScratchAtTheEnd() {
        let sharersOnly = StressLayout(stripes: 512, sharers: 4, ops: [])
        #expect(sharersOnly.stable.count == 512 && sharersOnly.scratch.allSatisfy { $0 == nil })
        let fork = StressLayout(stripes: 512, sharers: 0, ops: [.fork])
        #expect(fork.scratch == [255])
        #expect(fork.stable(of: 0).count == 511)
    }

    @Test func patternIsAPureFunctionOfStripeWordAndGeneration() {
        let seed = Pattern.seed("stress-fsdax-xfs")
        #expect(StressSpec.pattern(stripe: 3, word: 7, seed: seed) == StressSpec.pattern(stripe: 3, word: 7, seed: seed))
        // Generation 0 is the stable pattern, the file-offset pattern persistence checks store.
        #expect(StressSpec.pattern(stripe: 3, word: 7, seed: seed) == Pattern.word(offset: 3 * (2 << 20) + 7 * 8, seed: seed))
        #expect(StressSpec.pattern(stripe: 3, word: 7, seed: seed) == PersistenceSpec.pattern(offset: 3 * (2 << 20) + 56, seed: seed))
        let words = (0..<512).flatMap { stripe in [0, 1, 262_143].map { StressSpec.pattern(stripe: stripe, word: $0, seed: seed) } }
        #expect(Set(words).count == words.count && !words.contains(0))
        #expect(StressSpec.pattern(stripe: 3, word: 7, seed: seed, generation: 1) != StressSpec.pattern(stripe: 3, word: 7, seed: seed))
        #expect(StressSpec.pattern(stripe: 3, word: 7, seed: seed, generation: 1) != StressSpec.pattern(stripe: 3, word: 7, seed: seed, generation: 2))
        #expect(StressSpec.pattern(stripe: 3, word: 7, seed: Pattern.seed("other")) != StressSpec.pattern(stripe: 3, word: 7, seed: seed))
    }

    /// The plan carries the agent's task as a typed value, which the plan's one decode
    /// in the guest brings back whole; the command is the one the agent dispatches on.
    @Test func thePlansTaskCarriesWorkloadsStressRunsAndPersistenceChecks() throws {
        let payload = WorkloadPayload(workloads: [WorkloadSpec(name: "w", backing: .fsdaxXfs, processes: 2, mappingBytes: 1 << 30)],
                                      stress: [StressSpec(name: "s", backing: .fsdaxXfs, sharers: 2, ops: [.fork], soakSeconds: 5)])
        let check = PersistenceSpec(name: "p", backing: .fsdaxExt4, bytes: 8 << 20, writers: 2, sync: .mapSync)
        for (task, command) in [(GuestTask.workload(payload), ["/init", "workload"]),
                                (.persist(.write, [check]), ["/init", "persist", "write"]),
                                (.persist(.verify, [check, check]), ["/init", "persist", "verify"])] {
            let plan = GuestPlan(pmem: PmemSetup(fileSystem: .ext4, reuse: true), task: task, environment: ["A": "1"], abruptPowerOff: true)
            #expect(plan.command == command)
            let decoded = try JSONDecoder().decode(GuestPlan.self, from: JSONEncoder().encode(plan))
            #expect(decoded == plan && decoded.task == task)
        }
        // A plan for any other command has no task (and decodes as such).
        let plain = GuestPlan(command: ["true"])
        #expect(try JSONDecoder().decode(GuestPlan.self, from: JSONEncoder().encode(plain)).task == nil)
        // The case names are the wire format: a task of an unknown kind does not decode.
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(GuestTask.self, from: Data(#"{"reboot":{}}"#.utf8))
        }
    }

    // MARK: Verdicts and reports

    /// A clean soak of 4 sharers and 2 mutators, as the guest reports it; `change` spoils it.
    static func report(_ change: (inout StressReport) -> Void = { _ in }) -> StressReport {
        let spec = StressSpec(name: "s", backing: .fsdaxXfs, sharers: 4, ops: [.munmap, .truncate], soakSeconds: 5)
        let workers = (0..<6).map { _ in WorkloadReport.Worker(vmPTEBefore: 40_960, vmPTEAfter: 49_152, faults: 512, faultNanoseconds: 1,
                                                               mismatches: 0, mapErrno: 0, exitStatus: 0) }
        let mapping = WorkloadReport(spec: spec.mapping, preFork: 500_000, control: 600_000, mapped: 600_000 + 6 * 4096, final: 500_000,
                                     workers: workers, patternWords: 0, seconds: 9, notes: [])
        let processes = (0..<4).map { _ in StressReport.Process(op: nil, iterations: 50, wordsVerified: 1_000_000) }
            + [StressReport.Process(op: .munmap, iterations: 7, wordsVerified: 300_000), StressReport.Process(op: .truncate, iterations: 9, wordsVerified: 400_000)]
        var report = StressReport(spec: spec, mapping: mapping, processes: processes, soakSeconds: 5.2)
        change(&report)
        return report
    }

    @Test func aCleanSoakPassesEveryExpectation() {
        let clean = Self.report()
        for expectation in [Expectation.dataIntact, .noLeak, .kernelLogClean, .private] {
            #expect(Judge.judge(expectation, stress: clean, findings: []).passed, "\(expectation)")
        }
        #expect(!Judge.judge(.shares, stress: clean, findings: []).passed)
        #expect(Judge.judge(.dataIntact, stress: clean, findings: []).detail
            == "4700000 words checked in a 5.2 s soak, 0 wrong, 0 failed calls, 0 failed mmaps, 0 processes exited non-zero")
    }

    /// The negative: a word read back wrong fails data-intact, naming the process, its
    /// op, the stripe and the word.
    @Test func aMismatchFailsDataIntactAndSaysWhere() {
        let wrong = Self.report {
            $0.processes[4].mismatches = 2
            $0.processes[4].firstMismatch = StressReport.Mismatch(stripe: 37, word: 1024, expected: 0xABCD, found: 0, during: "munmap iteration 3")
            $0.mapping.workers[4].mismatches = 2
            $0.mapping.workers[4].exitStatus = 1
        }
        let verdict = Judge.judge(.dataIntact, stress: wrong, findings: [])
        #expect(!verdict.passed)
        #expect(verdict.detail.contains("2 wrong (first by process 4 (munmap): stripe 37 word 1024 (file offset 77602816) read 0x0 instead of 0xabcd (munmap iteration 3))"))
        #expect(verdict.detail.contains("1 processes exited non-zero (first: process 4 (munmap) exit status 1)"))
    }

    @Test func aFailedCallOrAKilledProcessFailsDataIntact() {
        let failedCall = Self.report {
            $0.processes[5].failedCalls = 1
            $0.processes[5].firstFailure = "ftruncate in iteration 2: Input/output error (errno 5)"
        }
        let verdict = Judge.judge(.dataIntact, stress: failedCall, findings: [])
        #expect(!verdict.passed)
        #expect(verdict.detail.contains("1 failed calls (first by process 5 (truncate): ftruncate in iteration 2: Input/output error (errno 5))"))
        let killed = Self.report { $0.mapping.workers[2].exitStatus = 128 + 7 }
        #expect(Judge.judge(.dataIntact, stress: killed, findings: []).detail.hasSuffix("(first: process 2 (sharer) killed by signal 7)"))
        let leaked = Self.report { $0.mapping.final = 500_000 + 8 * 4096 }
        #expect(!Judge.judge(.noLeak, stress: leaked, findings: []).passed)
        let oops = ConsoleFinding(kind: .oops, line: 9, excerpt: "Oops")
        #expect(!Judge.judge(.kernelLogClean, stress: Self.report(), findings: [oops]).passed)
    }

    @Test func resultsShowInTheTableKTAPAndTheStore() {
        let report = Self.report { $0.processes[5].mismatches = 1; $0.mapping.workers[5].mismatches = 1 }
        let item = StressCase(spec: report.spec)
        let verdicts = item.expectations.map { Judge.judge($0, stress: report, findings: []) }
        let results = SpecResults(spec: TestSpec(name: "t", workloads: [], stress: [item]), workloads: [], persistence: [],
                                  stress: [StressResult(stress: item, report: report, verdicts: verdicts, error: nil)])
        #expect(!results.passed && results.complete)
        let table = ResultTable.render(results)
        #expect(table.contains("sharer 200, munmap 7, truncate 9"))
        #expect(table.contains("FAIL s data-intact: 4700000 words checked"))
        let ktap = KTAP.render(results)
        #expect(ktap.contains("# Subtest: s") && ktap.contains("not ok 1 data-intact") && ktap.contains("ok 2 no-leak"))
        #expect(ktap.contains("iterations sharer 200, munmap 7, truncate 9, 4700000 words checked, 1 wrong"))
        let record = RunRecord(results)
        #expect(record.tests.map(\.path) == ["s.data-intact", "s.no-leak", "s.kernel-log-clean"])
        #expect(record.tests.first?.status == .fail)
        #expect(record.workloads == [WorkloadRecord(name: "s", backing: "fsdax-xfs", processes: 6, mappingBytes: 1 << 30)])
        let metrics = Dictionary(record.metrics.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        #expect(metrics["iterations_munmap"] == 7 && metrics["iterations_sharer"] == 200 && metrics["words_wrong"] == 1)
        #expect(metrics["page_tables_delta"] == 6 * 4096 && metrics["leak"] == 0)
        let json = SpecReport(results)
        #expect(json.stress.first?.iterations?.map(\.role) == ["sharer", "munmap", "truncate"])
        #expect(json.stress.first?.mapping?.pmdPagesMeasured == 6)
    }

    @Test func aStressRunWithoutAReportIsAnError() {
        let item = StressCase(spec: StressSpec(name: "s", backing: .fsdaxExt4))
        let results = SpecResults(spec: TestSpec(name: "t", workloads: [], stress: [item]), workloads: [], persistence: [],
                                  stress: [StressResult(stress: item, report: nil, verdicts: [], error: "no report: timed out",
                                                        outcome: .timeout(seconds: 900, lastPhase: "command"))])
        #expect(!results.complete)
        #expect(RunRecord(results).tests == [TestRecord(path: "s", status: .error, detail: "no report: timed out")])
        #expect(ResultTable.render(results).contains("ERROR: no report: timed out"))
    }
}
