import DaxRig
import DaxRigProtocol
import Foundation
import Testing
import DaxRigKernel
import DaxRigSupport
import DaxRigResults
import DaxRigRun

/// Our KTAP, read back by the kernel's own parser from the 6.1 tree.
@Suite(.timed) struct KTAPIntegrationTests {
    @Test func kunitParserReadsOurResultsWithTheirVerdicts() throws {
        _ = try Rig.defaultKernel()
        let identity = try KernelSource.default.identity(cache: Rig.cache)
        let kunit = Workspace(cache: Rig.cache, lineage: identity.lineage).source + "/tools/testing/kunit/kunit.py"
        let worker = WorkloadReport.Worker(vmPTEBefore: 40_960, vmPTEAfter: 49_152, faults: 512, faultNanoseconds: 1, mismatches: 0, mapErrno: 0, exitStatus: 0)
        func result(_ backing: WorkloadSpec.Backing, pages: UInt64, expect: [DaxRigRun.Expectation]) -> WorkloadResult {
            let spec = WorkloadSpec(name: "\(backing.rawValue)-n10", backing: backing, processes: 10, mappingBytes: 1 << 30)
            let report = WorkloadReport(spec: spec, preFork: 100_000, control: 200_000, mapped: 200_000 + pages * 4096, final: 100_000,
                                        workers: Array(repeating: worker, count: 10), patternWords: 1, seconds: 1, notes: [])
            return WorkloadResult(workload: WorkloadCase(spec: spec, expectations: expect), report: report,
                                  verdicts: expect.map { Judge.judge($0, report: report, findings: []) }, error: nil)
        }
        let results = [
            result(.hugetlbfs, pages: 1, expect: [.shares, .noLeak, .dataIntact]),
            result(.fsdaxXfs, pages: 10, expect: [.shares, .noLeak]),
            WorkloadResult(workload: WorkloadCase(spec: WorkloadSpec(name: "broken boot", backing: .tmpfs, processes: 1, mappingBytes: 1 << 20), expectations: [.noLeak]),
                           report: nil, verdicts: [], error: "the guest did not boot"),
        ]
        let persisted = PersistenceSpec(name: "persist-fsdax-xfs-msync", backing: .fsdaxXfs, bytes: 64 << 20)
        let written = PersistenceReport(spec: persisted, phase: .write, bytes: 64 << 20, seconds: 1)
        let verified = PersistenceReport(spec: persisted, phase: .verify, bytes: 64 << 20, seconds: 1)
        let persistence = PersistenceResult(check: PersistenceCase(spec: persisted), write: written, verify: verified,
                                            verdicts: PersistenceCase.applicable.map { Judge.judge($0, written: written, verified: verified, findings: []) },
                                            error: nil)
        let text = KTAP.render(SpecResults(spec: TestSpec(name: "ktap", workloads: []), workloads: results, persistence: [persistence]))
        let parsed = try Command("python3", [kunit, "parse"]).runAllowingFailure(input: text)
        // kunit.py exits 1 because a test failed, as one should here.
        #expect(parsed.status == 1)
        let output = parsed.standardOutput
        #expect(output.contains("Testing complete. Ran 8 tests: passed: 6, failed: 2"), "\(output)")
        #expect(output.contains("[FAILED] shares"))
        #expect(output.contains("[PASSED] hugetlbfs-n10"))
        #expect(output.contains("[FAILED] fsdax-xfs-n10"))
        #expect(output.contains("broken_boot"))
        #expect(output.contains("[PASSED] persist-fsdax-xfs-msync"))
    }
}
