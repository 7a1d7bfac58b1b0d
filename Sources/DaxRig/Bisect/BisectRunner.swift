import DaxRigProtocol
import Foundation
import DaxRigImage
import DaxRigKernel
import DaxRigSupport
import DaxRigResults
import DaxRigRun
import DaxRigMachine

/// What `daxrig bisect` is asked.
public struct BisectRequest: Sendable {
    public var repository: String
    public var good: String
    public var bad: String
    public var specPath: String
    public var oracle: BisectOracle
    public var runs: Int
    public var patches: String?
    public var base: String
    public var fragments: [String]
    public var assignments: [String]
    public var store: String

    public init(repository: String, good: String, bad: String, specPath: String, oracle: BisectOracle, runs: Int = 1,
                patches: String? = nil, base: String = "tinyconfig", fragments: [String] = [], assignments: [String] = [],
                store: String = ResultStore.defaultPath) {
        self.repository = repository
        self.good = good
        self.bad = bad
        self.specPath = specPath
        self.oracle = oracle
        self.runs = runs
        self.patches = patches
        self.base = base
        self.fragments = fragments
        self.assignments = assignments
        self.store = store
    }

    /// The request with every path made absolute against the current directory: the
    /// state keeps them, and a `--resume` from another directory must find the same
    /// files (relative ones sent every remaining commit to "does not apply").
    public func absolute(in current: String = FileManager.default.currentDirectoryPath) -> BisectRequest {
        func absolute(_ path: String) -> String {
            URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: current, isDirectory: true)).standardizedFileURL.path
        }
        var request = self
        request.repository = absolute(repository)
        request.specPath = absolute(specPath)
        request.patches = patches.map(absolute)
        request.fragments = fragments.map(absolute)
        if base != "tinyconfig" && base != "defconfig" { request.base = absolute(base) }
        request.store = absolute(store)
        return request
    }
}

/// Drives git bisect with daxrig as the oracle: each commit built (cached kernels,
/// ccache and one reused build tree, so a step recompiles what the commits between
/// changed), booted and judged. A commit that does not build is skipped with its log
/// kept; a rig failure (a boot lost to libvirt, a full disk) is retried once, then
/// stops the bisect without telling git, for `--resume` once the host is fixed; with
/// several runs a commit is good only when every run is, and runs are doubled where
/// they disagree. The state is on
/// disk after every step, so an interrupted bisect resumes where it stopped.
public struct BisectRunner: Sendable {
    public let rig: any CampaignRig
    public let progress: ProgressSink
    /// Where the bisect keeps its state and its repository.
    public let directory: URL

    public init(rig: any CampaignRig, progress: ProgressSink = SilentProgress(), directory: URL? = nil) {
        self.rig = rig
        self.progress = progress
        self.directory = directory ?? rig.cache.root.appendingPathComponent("bisect")
    }

    public init(runner: GuestRunner, progress: ProgressSink = SilentProgress(), directory: URL? = nil) {
        self.init(rig: LiveRig(runner: runner), progress: progress, directory: directory)
    }

    var statePath: String { directory.appendingPathComponent("state.json").path }
    var repositoryPath: String { directory.appendingPathComponent("repo.git").path }

    public func loadState() throws -> BisectState {
        guard Files.exists(statePath) else { throw BisectError.noBisect(directory: directory.path) }
        return try JSONCoding.decoder.decode(BisectState.self, from: Data(contentsOf: URL(fileURLWithPath: statePath)))
    }

    func save(_ state: BisectState) throws {
        // What an interrupted step found (a make killed by Ctrl-C looks like "does not
        // build") is not kept, and git never hears of it: the resume tests it again.
        if Cleanup.shared.interrupted { throw CancellationError() }
        try Files.write(JSONCoding.encoder.encode(state), to: statePath)
    }

    /// Drops the bisect (state and repository); the cached kernels and stored runs stay.
    public func reset() throws {
        let held = try lock()
        defer { held.release() }
        Files.remove(directory.path)
    }

    /// The git-bisect-compatible log (`git bisect replay` takes it).
    public func log() throws -> String {
        _ = try loadState()
        return try GitBisect(directory: repositoryPath).log()
    }

    public func start(_ request: BisectRequest) throws -> BisectState {
        let held = try lock()
        defer { held.release() }
        let request = request.absolute()
        if let existing = try? loadState(), existing.firstBad == nil, existing.candidates == nil {
            throw BisectError.inProgress(started: ISO8601DateFormatter().string(from: existing.started), good: existing.good, bad: existing.bad)
        }
        let goodCommit = try resolve(request.good, in: request.repository)
        let badCommit = try resolve(request.bad, in: request.repository)
        let specText = try Files.read(request.specPath)
        _ = try TestSpec.load(request.specPath)
        if let patches = request.patches { _ = try PatchSeries.load(directory: patches) }
        Files.remove(directory.path)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let state = BisectState(repository: URL(fileURLWithPath: request.repository).standardizedFileURL.path, good: request.good, bad: request.bad,
                                goodCommit: goodCommit, badCommit: badCommit, specPath: request.specPath, specText: specText,
                                oracle: request.oracle, runs: max(1, request.runs), patches: request.patches, base: request.base,
                                fragments: request.fragments, assignments: request.assignments, store: request.store, started: Date(), steps: [])
        try save(state)
        return try carryOn(state)
    }

    public func resume() throws -> BisectState {
        let held = try lock()
        defer { held.release() }
        return try carryOn(try loadState())
    }

    /// One bisect per state directory at a time: a second one would move git's
    /// BISECT_HEAD under the first and mark commits it never tested. The lock lives in
    /// the cache (not in the directory, which a new bisect removes) and dies with us.
    func lock() throws -> FileLock {
        let name = "bisect-" + ContentHash.of(directory.standardizedFileURL.path).prefix(16)
        guard let held = try rig.cache.attemptLock(name) else { throw BisectError.busy(directory: directory.path) }
        return held
    }

    /// Endpoints first (good must pass, bad must fail), then git's commits until it
    /// names the first bad one. Every step is saved before git hears of it, so a
    /// resume never tests a commit twice.
    func carryOn(_ initial: BisectState) throws -> BisectState {
        var state = initial
        guard state.firstBad == nil, state.candidates == nil else { return state }
        // What each step reads again: gone, every commit would be skipped as one whose
        // patches do not apply, and the bisect would end "successfully".
        for (what, path) in state.inputPaths where !Files.exists(path) {
            throw BisectError.missingInput(what: what, path: path)
        }
        let git = try GitBisect.prepare(repository: state.repository, in: repositoryPath)
        let spec = try TestSpec.parse(state.specText, path: state.specPath)
        let image = try rig.image(progress: progress)
        let store = try ResultStore(path: state.store)

        for (which, ref, commit, wanted) in [("good", state.good, state.goodCommit, BisectStep.Verdict.good),
                                             ("bad", state.bad, state.badCommit, BisectStep.Verdict.bad)] {
            var step = state.steps.first { $0.role == "endpoint" && $0.commit == commit }
            if step == nil {
                progress.phase("bisect", "checking the \(which) endpoint \(ref) (\(commit.prefix(12)))")
                step = try test(commit, role: "endpoint", state: state, spec: spec, image: image, store: store, git: git)
                state.steps.append(step!)
                try save(state)
            }
            if step!.verdict != wanted {
                throw BisectError.endpoint(which: which, ref: ref, commit: commit, verdict: step!.verdict.rawValue, detail: step!.detail)
            }
        }

        var next: GitBisect.Next
        if !git.started {
            next = try git.start(bad: state.badCommit, good: state.goodCommit)
        } else if let head = try git.current() {
            // Resumed: the commit under test may have been judged and saved, but not marked.
            if let judged = state.steps.last(where: { $0.role == "bisect" && $0.commit == head }) {
                next = try git.mark(judged.verdict, head)
            } else {
                next = .test(head)
            }
        } else {
            throw BisectError.git(action: "resume", output: "no BISECT_HEAD in \(repositoryPath)")
        }
        while case let .test(commit) = next {
            let left = try git.git(["rev-list", "--count", "\(state.goodCommit)..\(commit)"]).standardOutput
            progress.phase("bisect", "step \(state.steps.count - 1): \(commit.prefix(12)) \(git.subject(commit)) (\(left.trimmingCharacters(in: .whitespacesAndNewlines)) commits above good)")
            let step = try test(commit, role: "bisect", state: state, spec: spec, image: image, store: store, git: git)
            state.steps.append(step)
            try save(state)
            next = try git.mark(step.verdict, commit)
        }
        switch next {
        case let .firstBad(commit): state.firstBad = commit
        case let .onlySkipped(commits): state.candidates = commits
        case .test: break
        }
        try save(state)
        return state
    }

    /// Builds, boots and judges one commit.
    func test(_ commit: String, role: String, state: BisectState, spec: TestSpec, image: GuestImage, store: ResultStore,
              git: GitBisect) throws -> BisectStep {
        let started = Date()
        var step = try judge(commit, role: role, state: state, spec: spec, image: image, store: store, git: git)
        step.seconds = Date().timeIntervalSince(started)
        return step
    }

    func judge(_ commit: String, role: String, state: BisectState, spec: TestSpec, image: GuestImage, store: ResultStore,
               git: GitBisect) throws -> BisectStep {
        var step = BisectStep(commit: commit, subject: git.subject(commit), role: role, verdict: .skip, detail: "", buildSeconds: nil,
                              cacheHit: false, buildLog: nil, goodRuns: 0, badRuns: 0, bootSeconds: nil, keyMetric: nil, runIDs: [])
        let artifacts: KernelArtifacts
        do {
            let request = try KernelBuildRequest(
                source: .git(repository: state.repository, ref: commit), patches: try state.patches.map { try PatchSeries.load(directory: $0) },
                base: state.base, fragmentPaths: state.fragments, assignments: state.assignments, origin: "daxrig bisect")
            artifacts = try rig.kernel(request, progress: progress)
        } catch let KernelBuildError.makeFailed(stage, errors, log) {
            step.detail = "does not build (\(stage)): \(errors.split(separator: "\n").first ?? "")"
            step.buildLog = log
            return step
        } catch let error as PatchError {
            step.detail = "the patches do not apply: \(error)"
            return step
        } catch let KernelBuildError.hostFailed(_, reason, log) {
            throw BisectError.rig(commit: commit, detail: "the build failed on the host (\(reason); log: \(log))")
        }
        step.cacheHit = artifacts.cacheHit
        step.buildSeconds = artifacts.cacheHit ? nil : artifacts.manifest.timings.totalSeconds
        step.buildLog = artifacts.buildLog

        var infrastructure: [String] = []
        var target = state.runs
        var run = 0
        while run < target {
            run += 1
            // A rig failure is retried once; a second one makes the run count for nothing.
            var verdict = BisectOracle.Verdict.infrastructure
            for attempt in 1...2 where verdict == .infrastructure {
                let recording = SpecRunner.Recording(store: store, command: "daxrig bisect [\(commit.prefix(12))] run \(run)"
                                                     + (attempt > 1 ? " retry" : ""), specText: state.specText)
                let results: SpecResults
                let id: Int64?
                do {
                    (results, id) = try rig.run(spec, kernel: BootableKernel(artifacts), image: image, recording: recording) { _, _ in }
                } catch {
                    if Cleanup.shared.interrupted { throw error }
                    infrastructure.append("\(error)")
                    continue
                }
                if let id { step.runIDs.append(id) }
                let record = RunRecord(results)
                let judged = state.oracle.judge(record)
                verdict = judged.verdict
                step.bootSeconds = results.workloads.compactMap(\.bootSeconds).max() ?? step.bootSeconds
                if let value = state.oracle.keyValue(record) { step.keyMetric = max(step.keyMetric ?? value, value) }
                switch judged.verdict {
                case .good: step.goodRuns += 1
                case .bad:
                    step.badRuns += 1
                    step.detail = judged.detail
                case .infrastructure: infrastructure.append(judged.detail)
                }
            }
            // Runs that disagree get as many again, once: a flaky result needs numbers.
            if run == target, target == state.runs, state.runs > 1, step.goodRuns > 0, step.badRuns > 0 { target *= 2 }
        }
        if step.badRuns > 0 {
            step.verdict = .bad
        } else if step.goodRuns > 0 && step.goodRuns + step.badRuns == run {
            step.verdict = .good
            step.detail = "\(step.goodRuns) run(s) passed"
        } else {
            // Runs that never got a verdict from the rig: the commit is neither good nor
            // one to skip (a skip is forever in git's log), so the bisect stops here.
            throw BisectError.rig(commit: commit, detail: "\(step.goodRuns) of \(run) runs passed and the rest failed on the rig, "
                                  + "each after a retry: \(infrastructure.last ?? "no run")")
        }
        return step
    }

    func resolve(_ ref: String, in repository: String) throws -> String {
        try KernelSource.git(repository: repository, ref: ref).identity(cache: rig.cache).id
    }
}
