import DaxRigProtocol
import DaxRigSupport
import Foundation
import Synchronization
import Testing
import DaxRigMachine
@testable import DaxRig
@testable import DaxRigImage
@testable import DaxRigKernel
@testable import DaxRigMachine
@testable import DaxRigResults
@testable import DaxRigRun

/// A rig with canned results (CampaignRig): kernels "build" unless their request sets
/// CONFIG_DAXRIG_FAKE_BROKEN, and each run of a spec passes or fails as `outcomes` says,
/// judged by the real Judge on canned reports (hugetlbfs sharing, or FS/DAX private).
final class FakeRig: CampaignRig {
    typealias Run = (kernel: String, cases: [String], vcpuLimit: Int?, host: String?)
    final class State: Sendable {
        let value = Mutex<(outcomes: [Bool], runs: [Run])>(([], []))
        /// A host lost (HostLoss) by the first run placed on it, which then fails.
        let losing = Mutex<String?>(nil)
    }
    let cache: Cache
    /// The libvirt host this rig's runs go to (`on(host:)`); its runs are the rig's.
    let placed: String?
    private let shared: State

    init(cache: Cache, placed: String? = nil, shared: State = State()) {
        self.cache = cache
        self.placed = placed
        self.shared = shared
    }

    func on(host uri: String?) -> any CampaignRig { FakeRig(cache: cache, placed: uri, shared: shared) }

    /// The first run placed on `uri` loses that host and fails with it.
    func lose(_ uri: String) { shared.losing.withLock { $0 = uri } }

    /// The next runs' outcomes, in order; a run past the end passes.
    func script(_ outcomes: [Bool]) { shared.value.withLock { $0.outcomes = outcomes } }
    var runs: [Run] { shared.value.withLock { $0.runs } }

    func kernel(_ request: KernelBuildRequest, progress: ProgressSink) throws -> KernelArtifacts {
        if request.config.options.contains(where: { $0.name == "CONFIG_DAXRIG_FAKE_BROKEN" }) {
            throw KernelBuildError.makeFailed(step: "build", errors: "fake: does not build", log: "/fake/log")
        }
        return KernelArtifacts(directory: URL(fileURLWithPath: "/fake/good"), manifest: Self.manifest(request.source), cacheHit: true)
    }

    static func manifest(_ source: KernelSource) -> KernelManifest {
        KernelManifest(key: "fake", release: "6.1.0-fake", source: source,
                                      sourceIdentity: .init(kind: "tarball", id: "fake", lineage: "fake"), patches: [], patchSeries: nil,
                                      configBase: "tinyconfig", fragments: [], requested: [], configSHA256: "", compiler: "", arch: "x86_64",
                                      compiledFiles: 0, changedSinceLastBuild: nil, ccache: false,
                                      timings: .init(sourceSeconds: 0, patchSeconds: 0, configSeconds: 0, makeSeconds: 0, totalSeconds: 0),
                                      created: Date())
    }

    func image(progress: ProgressSink) throws -> GuestImage {
        try Fixtures.guestImage(in: cache.root)
    }

    func host(kernel: String, fits: (UInt64, UInt64) throws -> Void) throws -> HostFacts {
        try fits(1 << 40, 1 << 40)
        return HostFacts(accelerator: .tcg, memoryAvailable: 1 << 40, diskAvailable: 1 << 40)
    }

    func run(_ spec: TestSpec, kernel: String, image: GuestImage, host: HostFacts, vcpuLimit: Int?, timeout: Double?,
             output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> SpecResults {
        if let placed, shared.losing.withLock({ losing in defer { if losing == placed { losing = nil } }; return losing == placed }) {
            shared.value.withLock { $0.runs.append((kernel, spec.workloads.map(\.spec.name), vcpuLimit, placed)) }
            HostLoss.mark(placed)
            throw LibvirtError(operation: "fake", code: 0, domain: 0, message: "the connection to the host was lost (\(placed))", hint: nil)
        }
        let passes = shared.value.withLock { state -> Bool in
            state.runs.append((kernel, spec.workloads.map(\.spec.name) + spec.suites.map(\.name), vcpuLimit, placed))
            return state.outcomes.isEmpty ? true : state.outcomes.removeFirst()
        }
        let workloads = spec.workloads.map { item -> WorkloadResult in
            let n = item.spec.processes
            let faults: [UInt64] = passes ? [512] + Array(repeating: 1, count: n - 1) : Array(repeating: 512, count: n)
            let report = Fixtures.workloadReport(spec: item.spec, mappedPages: passes ? 1 : UInt64(n), vmPTEDelta: 0, faults: faults)
            return WorkloadResult(workload: item, report: report,
                                  verdicts: item.expectations.map { Judge.judge($0, report: report, findings: []) }, error: nil)
        }
        // A suite's KTAP as its binary would print it, judged by the real SuiteJudge: "flips"
        // follows the scripted outcome, "known" always fails.
        let suites = spec.suites.map { suite -> SuiteResult in
            let text = "1..3\nok 1 steady\n\(passes ? "ok" : "not ok") 2 flips\nnot ok 3 known\n"
            let tests = SuiteJudge(suite: suite).judge(KTAPDocument.parse(text), outcome: .commandExited(status: passes ? 0 : 1, signal: nil),
                                                       findings: [], excerpt: "")
            return SuiteResult(suite: suite, tests: tests, outcome: .commandExited(status: passes ? 0 : 1, signal: nil))
        }
        return SpecResults(spec: spec, workloads: workloads, persistence: [], suites: suites)
    }
}

/// A recorded run takes what it stores about its kernel from the kernel's build, read
/// once beside the bzImage: the manifest's key and release, the build log and config.
@Suite struct RecordedRunTests {
    @Test func aRunOfABuiltKernelStoresItsManifestAndItsBuildLogAndOfAnyOtherBzImageNothing() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let built = directory.appendingPathComponent("built")
        try FileManager.default.createDirectory(at: built, withIntermediateDirectories: true)
        try JSONCoding.encoder.encode(FakeRig.manifest(.default)).write(to: built.appendingPathComponent("manifest.json"))
        for name in ["bzImage", "build.log", "config"] { try Files.write(name, to: built.appendingPathComponent(name).path) }
        try Files.write("bzImage", to: directory.appendingPathComponent("bzImage").path)
        #expect(KernelStore.artifacts(ofImage: built.appendingPathComponent("bzImage").path)?.manifest.key == "fake")
        #expect(KernelStore.artifacts(ofImage: directory.appendingPathComponent("bzImage").path) == nil)

        let rig = FakeRig(cache: Cache(root: directory))
        let store = try ResultStore(path: directory.appendingPathComponent("results.sqlite").path)
        let spec = try TestSpec.parse("name = \"s\"\n[[workload]]\nbacking = \"hugetlbfs\"\nprocesses = 2\nsize = \"1G\"\nexpect = [\"shares\"]\n", path: "s.toml")
        let image = try rig.image(progress: SilentProgress())
        for (kernel, key, kept) in [(built.appendingPathComponent("bzImage").path, "fake" as String?, ["build-log", "kernel-config"]),
                                    (directory.appendingPathComponent("bzImage").path, nil, [])] {
            let (_, id) = try rig.run(spec, kernel: BootableKernel(image: kernel), image: image, recording: .init(store: store, command: "t", specText: nil)) { _, _ in }
            let stored = try #require(id)
            let run = try #require(try store.run(stored))
            #expect(run.kernelKey == key && run.kernelRelease == key.map { _ in "6.1.0-fake" } && run.accelerator == "tcg")
            #expect(try store.artifacts(run.id).map(\.kind) == kept)
        }
    }
}

/// The nightly's orchestration with canned boots: what it runs again, what it stores,
/// how it judges, and a kernel that does not build, without a build or a boot.
@Suite struct CampaignRigTests {
    static let workloadSpec = """
        name = "s"
        [[workload]]
        backing = "hugetlbfs"
        processes = 4
        size = "1G"
        expect = ["shares"]
        """

    static func night(after outcomes: [Bool], in directory: URL, jobs: Int = 1, spec: String = workloadSpec) throws -> (first: NightVerdict, second: NightVerdict, store: ResultStore, rig: FakeRig) {
        try spec.write(to: directory.appendingPathComponent("s.toml"), atomically: true, encoding: .utf8)
        let path = directory.appendingPathComponent("m.toml").path
        try """
            name = "fake"
            specs = ["s.toml"]
            [[kernel]]
            name = "good"
            [[kernel]]
            name = "broken"
            set = ["CONFIG_DAXRIG_FAKE_BROKEN=y"]
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let rig = FakeRig(cache: Cache(root: directory))
        let store = try ResultStore(path: directory.appendingPathComponent("results.sqlite").path)
        let runner = NightlyRunner(rig: rig, jobs: jobs, reruns: 2)
        let first = try runner.run(try Matrix.load(path), file: path, store: store, command: "test") { _, _ in }
        rig.script(outcomes)
        let second = try runner.run(try Matrix.load(path), file: path, store: store, command: "test") { _, _ in }
        return (first, second, store, rig)
    }

    /// (outcomes of night 2's run and its two re-runs, the finding, runs failed of 3)
    @Test(arguments: [([false, false, true], NightFinding.Kind.regression, 2), ([false, true, true], .flaky, 1)])
    func aNewFailureIsRunAgainAndJudgedByHowOftenItComesBack(outcomes: [Bool], kind: NightFinding.Kind, failed: Int) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (first, second, store, rig) = try Self.night(after: outcomes, in: directory)
        // Night 1: the good kernel's cell passes; the broken one is MISS with its build error, and nothing ran on it.
        #expect(first.cells.map(\.status) == [.pass, .miss])
        #expect(first.cells.last?.error?.contains("fake: does not build") == true, "\(first.cells)")
        #expect(first.findings.map(\.cell) == ["broken"] && first.baseline == nil, "\(first.findings)")
        // Night 2 is compared with night 1; the new failure ran twice more, its workload alone.
        #expect(second.baseline == first.night)
        let finding = try #require(second.findings.first { $0.cell == "good" }, "\(second)")
        #expect(second.findings.filter { $0.cell == "good" }.count == 1)
        #expect(finding.cell == "good" && finding.test.hasSuffix(".shares") && finding.before == .pass && finding.after == .fail)
        #expect(finding.kind == kind && finding.failedRuns == failed && finding.runs == 3, "\(finding)")
        #expect(rig.runs.count == 4 && rig.runs.allSatisfy { $0.kernel == "/fake/good/bzImage" && $0.vcpuLimit == nil })
        // Stored: night 2's run and its two re-runs, each re-run pointing at the run it repeats.
        let runs = try store.runs(night: second.night)
        let original = try #require(runs.first { $0.rerunOf == nil })
        #expect(runs.count == 3 && runs.filter { $0.rerunOf == original.id }.count == 2)
        #expect(runs.allSatisfy { $0.state == .complete && $0.cell == "good" })
        #expect(second.cells.first?.reruns.count == 2)
        #expect(try store.night(second.night)?.state == .complete)
        // The kernel that did not build the night before and does not tonight is still
        // failing, not a new regression every night (it has no stored run to compare:
        // its status comes from the night before's verdict).
        #expect(second.findings.filter { $0.cell == "broken" }.map(\.kind) == [.stillFailing], "\(second.findings)")
    }

    /// A suite test that starts failing is run again and called a regression, by the
    /// suite's own name in the re-run; one listed as an expected failure is not a
    /// finding at all, night after night.
    @Test func aSuiteTestThatStartsFailingIsARegressionAndAKnownFailureIsNot() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try "known  fails on every kernel of this matrix\n".write(to: directory.appendingPathComponent("known.txt"), atomically: true, encoding: .utf8)
        let (_, second, _, rig) = try Self.night(after: [false, false, true], in: directory, spec: """
            name = "s"
            [[suite]]
            name = "own"
            command = "/root/own-tests"
            expected-failures = "known.txt"
            """)
        let good = second.findings.filter { $0.cell == "good" }
        #expect(good.map(\.test) == ["own.flips"] && good.first?.kind == .regression && good.first?.failedRuns == 2, "\(second.findings)")
        #expect(rig.runs.count == 4 && rig.runs.allSatisfy { $0.cases == ["own"] }, "\(rig.runs.map(\.cases))")
    }

    /// Issue 19: a new failure is re-run on the host its cell ran on, so its failure
    /// rate is that host's as the cell's was; a host lost since leaves them here.
    @Test func aCellIsReRunOnTheHostItRanOnAndHereOnceThatHostIsLost() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (_, second, store, rig) = try Self.night(after: [false, false, true], in: directory)
        let run = try #require(second.cells.first { $0.cell == "good" }?.run)
        let spec = try TestSpec.load(directory.appendingPathComponent("s.toml").path)
        let host = HostFacts(accelerator: .tcg, memoryAvailable: 1 << 40, diskAvailable: 1 << 40)
        rig.script([true, false])
        let passed = try rig.run(spec, kernel: "/fake/good/bzImage", image: rig.image(progress: SilentProgress()), host: host,
                                 vcpuLimit: nil, timeout: nil) { _, _ in }
        let failed = try rig.run(spec, kernel: "/fake/good/bzImage", image: rig.image(progress: SilentProgress()), host: host,
                                 vcpuLimit: nil, timeout: nil) { _, _ in }
        let before = rig.runs.count
        for (uri, lost) in [("qemu+tcp://10.77.99.2/system", false), ("qemu+tcp://10.77.98.2/system", true)] {
            if lost { HostLoss.mark(uri) }
            var cell = MatrixCell(kernel: "good", spec: "s", results: failed, runID: run, kernelImage: "/fake/good/bzImage")
            cell.host = uri
            let (ids, _) = try NightlyRunner(rig: rig, reruns: 2).rerun(cell, tonight: RunRecord(failed), baseline: RunRecord(passed),
                                                                        night: second.night, store: store, command: "test") { _, _ in }
            #expect(ids.count == 2)
        }
        // A host lost under a re-run: that attempt is the host's, and runs again here.
        let dying = "qemu+tcp://10.77.97.2/system"
        rig.lose(dying)
        var cell = MatrixCell(kernel: "good", spec: "s", results: failed, runID: run, kernelImage: "/fake/good/bzImage")
        cell.host = dying
        let (ids, records) = try NightlyRunner(rig: rig, reruns: 2).rerun(cell, tonight: RunRecord(failed), baseline: RunRecord(passed),
                                                                         night: second.night, store: store, command: "test") { _, _ in }
        #expect(ids.count == 2 && records.count == 2 && records.allSatisfy { !$0.tests.contains { $0.status == .error } }, "\(records)")
        let hosts = rig.runs.dropFirst(before).map(\.host)
        #expect(hosts == ["qemu+tcp://10.77.99.2/system", "qemu+tcp://10.77.99.2/system", nil, nil, dying, nil, nil], "\(hosts)")
        // A night on this machine alone re-ran here.
        #expect(rig.runs.prefix(before).allSatisfy { $0.host == nil })
    }

    /// Cells side by side share the cores: with jobs > 1 each run is given a vCPU limit
    /// (the host's cores over the cells at once), one at a time none; re-runs run alone.
    @Test func cellsSideBySideAreGivenAVCPULimitAndReRunsAreNot() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (_, _, _, rig) = try Self.night(after: [false, false, false], in: directory, jobs: 2)
        let limits = rig.runs.map(\.vcpuLimit)
        #expect(limits.count == 4 && limits[0] == ProcessInfo.processInfo.activeProcessorCount && limits[1] == limits[0], "\(limits)")
        #expect(limits[2] == nil && limits[3] == nil, "\(limits)")
    }
}
