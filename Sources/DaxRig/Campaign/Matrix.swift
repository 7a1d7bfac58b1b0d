import DaxRigProtocol
import Foundation
import Synchronization
import DaxRigImage
import DaxRigKernel
import DaxRigSupport
import DaxRigResults
import DaxRigRun
import DaxRigMachine

/// A test matrix: kernels (source or git ref, patch series, config) and the specs
/// each runs, from a TOML file documented in kernels/matrices/README.md. Paths in it
/// are relative to the file.
public struct Matrix: Sendable {
    public struct Kernel: Sendable {
        public var name: String
        public var request: KernelBuildRequest
        /// The specs this kernel runs, with its expectations in them.
        public var specs: [TestSpec]
    }

    public var name: String
    public var kernels: [Kernel]

    static let kernelKeys = ["name", "source", "git", "ref", "patches", "base", "fragments", "set", "specs"]

    public static func load(_ path: String) throws -> Matrix {
        try Matrix(file: TOMLFile.load(path))
    }

    init(file: TOMLFile) throws {
        let top = file.top
        try top.onlyKeys(["name", "specs", "processes", "size", "backings", "kernel"])
        let directory = URL(fileURLWithPath: file.path).deletingLastPathComponent()
        func resolve(_ path: String) -> String {
            path.hasPrefix("/") ? path : directory.appendingPathComponent(path).standardized.path
        }
        name = try top.string("name") ?? URL(fileURLWithPath: file.path).deletingPathExtension().lastPathComponent
        let processes = try top.ints("processes")
        let size = try top.byteSize("size")
        let backings = try top.choices("backings", WorkloadSpec.Backing.self)

        /// "default" is the built-in spec; anything else a spec file.
        func specs(_ section: TOMLSection, _ names: [String]) throws -> [TestSpec] {
            try names.map { name in
                let spec: TestSpec
                do {
                    spec = name == "default" ? TestSpec.builtIn : try TestSpec.load(resolve(name))
                } catch let error as InputFileError where error.file == resolve(name) && error.message == "no such file" {
                    throw section.error("specs", "spec \(name) not found at \(resolve(name))", hint: "paths are relative to the matrix file; \"default\" is the built-in spec")
                }
                do {
                    return try spec.overriding(processes: processes, size: size, backings: backings)
                } catch let error as SpecOverrideError {
                    throw top.error("backings", error.message)
                }
            }
        }
        let common = try top.strings("specs") ?? ["default"]
        var kernels: [Kernel] = []
        for section in try file.arrayOfTables("kernel") {
            try section.onlyKeys(Self.kernelKeys)
            guard let name = try section.string("name") else { throw section.error("name", "\(section.label) needs a name") }
            if kernels.contains(where: { $0.name == name }) { throw section.error("name", "two kernels are named '\(name)'") }
            let source: KernelSource
            let (path, repository, ref) = (try section.string("source"), try section.string("git"), try section.string("ref"))
            if let repository {
                guard path == nil else { throw section.error("source", "give either source, or git and ref") }
                guard let ref else { throw section.error("git", "git needs a ref (a branch, tag or commit)") }
                source = .git(repository: resolve(repository), ref: ref)
            } else if let path {
                guard ref == nil else { throw section.error("ref", "ref goes with git") }
                source = .local(resolve(path))
            } else {
                guard ref == nil else { throw section.error("ref", "ref goes with git") }
                source = .default
            }
            let patches: PatchSeries?
            do {
                patches = try section.string("patches").map { try PatchSeries.load(directory: resolve($0)) }
            } catch {
                throw section.error("patches", "\(error)")
            }
            let request: KernelBuildRequest
            do {
                request = try KernelBuildRequest(
                    source: source, patches: patches,
                    base: try section.string("base").map { $0 == "tinyconfig" || $0 == "defconfig" ? $0 : resolve($0) } ?? "tinyconfig",
                    fragmentPaths: (try section.strings("fragments") ?? []).map(resolve),
                    assignments: try section.strings("set") ?? [], origin: "\(file.path) [[kernel]] \(name)")
            } catch let error as InputFileError {
                throw error
            } catch {
                throw section.error(nil, "kernel \(name): \(error)")
            }
            kernels.append(Kernel(name: name, request: request, specs: try specs(section, try section.strings("specs") ?? common)))
        }
        guard !kernels.isEmpty else { throw top.error(nil, "the matrix names no [[kernel]]", hint: "see kernels/matrices/README.md") }
        self.kernels = kernels
    }
}

/// One kernel x spec of a matrix: what ran and where it is stored.
public struct MatrixCell: Sendable {
    public var kernel: String
    public var spec: String
    /// nil when the kernel did not build (`buildError` says why) or the run failed on
    /// the host (`runError`).
    public var results: SpecResults?
    public var buildError: String?
    public var runError: String?
    public var runID: Int64?
    /// The kernel it ran, for a re-run.
    public var kernelImage: String?
    /// The libvirt host its run ran on (nil: this machine), where a night re-runs it.
    public var host: String?

    public var status: TestStatus {
        guard let results else { return buildError != nil ? .miss : .error }
        return RunRecord(results).status
    }

    /// The cell's subtest statuses, a cell without results counting as one.
    public var statuses: [TestStatus] {
        results.map { RunRecord($0).tests.map(\.status) } ?? [status]
    }
}

/// Runs a matrix: each kernel built once, then every kernel x spec cell (a spec's
/// workloads share boots), `jobs` cells at a time within the host's memory, every run
/// recorded in the store.
public struct MatrixRunner: Sendable {
    public let rig: any CampaignRig
    public let progress: ProgressSink
    public let jobs: Int
    /// The libvirt hosts cells run on (`--host`), `jobs` cells at a time on each; nil is
    /// this machine's libvirtd, the only host unless others are given.
    public var hosts: [String?] = [nil]

    public init(rig: any CampaignRig, progress: ProgressSink = SilentProgress(), jobs: Int = 1) {
        self.rig = rig
        self.progress = progress
        self.jobs = max(1, jobs)
    }

    public init(runner: GuestRunner, progress: ProgressSink = SilentProgress(), jobs: Int = 1) {
        self.init(rig: LiveRig(runner: runner), progress: progress, jobs: jobs)
    }

    /// Each host as the pool places cells on it: its memory budget and CPUs from libvirt
    /// there (this machine's from /proc). A host that does not answer is left out, and
    /// said so; none answering is the matrix's error.
    func poolHosts(cells: Int) throws -> [JobPool.Host] {
        let placed = hosts.compactMap { uri -> JobPool.Host? in
            guard let uri else {
                return JobPool.Host(uri: nil, jobs: jobs, memoryBudget: HostFacts.capacity(cache: rig.cache).memory * 3 / 4)
            }
            do {
                let capacity = try LibvirtConnection(uri: uri).capacity()
                progress.phase("host", "\(uri): \(capacity.hostname), \(capacity.cpus) CPUs, \(capacity.freeMemoryBytes >> 20) MiB free")
                return JobPool.Host(uri: uri, jobs: jobs, memoryBudget: capacity.freeMemoryBytes * 3 / 4, cpus: capacity.cpus)
            } catch {
                progress.phase("host", "\(uri) left out: \(error)")
                return nil
            }
        }
        guard !placed.isEmpty else { throw MatrixHostError(hosts: hosts.compactMap { $0 }) }
        return placed
    }

    /// Runs every cell; `night` marks the runs as one night's (`daxrig nightly`).
    public func run(_ matrix: Matrix, store: ResultStore?, command: String, night: Int64? = nil,
                    output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> [MatrixCell] {
        let image = try rig.image(progress: progress)
        var cells: [MatrixCell] = []
        var work: [(index: Int, spec: TestSpec, kernel: String, image: BootableKernel)] = []
        // Builds first, one at a time: each already uses every core.
        for kernel in matrix.kernels {
            progress.phase("matrix", "kernel \(kernel.name): \(kernel.specs.count) spec(s)")
            do {
                let artifacts = try rig.kernel(kernel.request, progress: progress)
                for spec in kernel.specs {
                    work.append((cells.count, spec, kernel.name, BootableKernel(artifacts)))
                    cells.append(MatrixCell(kernel: kernel.name, spec: spec.name, kernelImage: artifacts.bzImage))
                }
            } catch {
                if Cleanup.shared.interrupted { throw error }
                // A kernel that does not build is its cells' MISS, not the matrix's end.
                cells += kernel.specs.map { MatrixCell(kernel: kernel.name, spec: $0.name, buildError: "\(error)") }
            }
        }
        let pool = JobPool(hosts: try poolHosts(cells: work.count))
        let jobs = jobs, several = pool.hosts.count > 1, cellCount = work.count
        let rig = rig
        let finished = pool.run(work.map { (UInt64($0.spec.guestMemoryMiB) << 20, $0) }) { item, host in
            let on = host.uri.map { " on \($0)" } ?? (several ? " on this machine" : "")
            progress.phase("matrix", "kernel \(item.kernel), spec \(item.spec.name)\(on)")
            // Guests side by side share the host's cores: a TCG vCPU whose thread waits for
            // a core while holding a guest spinlock stalls every other vCPU of its guest (2
            // guests x 2 vCPUs on 2 cores ran the benchmark matrix 3.5 times slower).
            let vcpuLimit = jobs > 1 ? max(1, host.cpus / min(jobs, max(cellCount, 1))) : nil
            let recording = store.map {
                SpecRunner.Recording(store: $0, command: command + " [\(item.kernel)]", specText: nil, night: night, cell: item.kernel)
            }
            // Labelled: the error and the host are both String?, and a swap would compile.
            let outcome: (index: Int, results: SpecResults?, id: Int64?, error: String?, host: String?)
            do {
                let (results, id) = try rig.on(host: host.uri).run(item.spec, kernel: item.image, image: image, vcpuLimit: vcpuLimit,
                                                                    recording: recording, output: output)
                outcome = (index: item.index, results: results, id: id, error: nil, host: host.uri)
            } catch {
                // The host failed this cell (recorded as its ERROR); the others still run.
                outcome = (index: item.index, results: nil, id: nil, error: "\(error)", host: host.uri)
            }
            // A host lost under the cell (and the cell hurt by it: an error, or a test in
            // ERROR): its ERROR is the host's; the pool runs it again elsewhere, and the
            // stored run leaves the night, kept for whoever looks for it by its id.
            let hurt = outcome.error != nil || outcome.results.map { RunRecord($0).tests.contains { $0.status == .error } } ?? true
            let lost = hurt && (host.uri.map(HostLoss.isLost) ?? false)
            if lost {
                let kept = night == nil ? "" : outcome.id.map { id in
                    (try? store?.detachFromNight(id)).map { _ in "; its run \(id) is kept outside the night" } ?? ""
                } ?? ""
                progress.phase("matrix", "\(host.uri!) was lost during kernel \(item.kernel), spec \(item.spec.name): "
                    + "running it again elsewhere\(kept)")
            }
            return (outcome, lost)
        }
        if Cleanup.shared.interrupted { throw CancellationError() }
        for outcome in finished {
            (cells[outcome.index].results, cells[outcome.index].runID, cells[outcome.index].runError, cells[outcome.index].host)
                = (outcome.results, outcome.id, outcome.error, outcome.host)
        }
        // Cells the pool never started: every host they could go to was lost first.
        let ran = Set(finished.map(\.index))
        for item in work where !ran.contains(item.index) {
            cells[item.index].runError = "not run: every host it could run on was lost"
        }
        return cells
    }
}

/// No host of a matrix answered.
public struct MatrixHostError: RigError {
    public var hosts: [String]
    public var exitStatus: ExitStatus { .infrastructure }
    public var description: String {
        "no host of the matrix answered (\(hosts.joined(separator: ", "))); `daxrig doctor --host URI` checks one"
    }
}

/// A matrix's cells as a terminal table: kernel x spec, status, subtests, run id.
public enum MatrixTable {
    public static func render(_ cells: [MatrixCell]) -> String {
        let header = ["kernel", "spec", "status", "subtests", "run"]
        let rows = cells.map { cell -> [String] in
            let record = cell.results.map(RunRecord.init)
            let counts = record.map { r in
                TestStatus.allCases.compactMap { status in
                    let n = r.tests.filter { $0.status == status }.count
                    return n == 0 ? nil : "\(n) \(status.rawValue)"
                }.joined(separator: ", ")
            } ?? (cell.buildError.map { "kernel did not build: \($0)" } ?? "no run: \(cell.runError ?? "")")
            return [cell.kernel, cell.spec, cell.status.rawValue, counts, cell.runID.map(String.init) ?? "-"]
        }
        return ResultTable.columns([header] + rows).joined(separator: "\n")
    }
}
