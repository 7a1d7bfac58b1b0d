import DaxRigProtocol
import Foundation
import DaxRigImage
import DaxRigSupport
import DaxRigResults
import DaxRigRun
import DaxRigKernel
import DaxRigMachine

/// A night of kernel validation: the matrix run and stored as one night, each cell
/// compared with the same cell of the last complete night of that matrix, every new
/// failure re-run `reruns` times for its failure rate before it is called a
/// regression, and the night's reports written.
public struct NightlyRunner: Sendable {
    public let rig: any CampaignRig
    public let progress: ProgressSink
    public let jobs: Int
    /// The hosts the night's cells run on (MatrixRunner.hosts); a cell's re-runs run on
    /// the host its run ran on.
    public var hosts: [String?] = [nil]
    public let reruns: Int

    public init(rig: any CampaignRig, progress: ProgressSink = SilentProgress(), jobs: Int = 1, reruns: Int = 2) {
        self.rig = rig
        self.progress = progress
        self.jobs = jobs
        self.reruns = max(0, reruns)
    }

    public init(runner: GuestRunner, progress: ProgressSink = SilentProgress(), jobs: Int = 1, reruns: Int = 2) {
        self.init(rig: LiveRig(runner: runner), progress: progress, jobs: jobs, reruns: reruns)
    }

    /// Runs the night; the store keeps it incomplete until the verdict is in, so a
    /// night killed halfway is never the baseline of the next one.
    public func run(_ matrix: Matrix, file: String, store: ResultStore, command: String,
                    output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> NightVerdict {
        let night = try store.beginNight(matrix: matrix.name, path: file, matrixHash: (try? Files.read(file)).map { ContentHash.of($0) })
        progress.phase("nightly", "night \(night) of matrix \(matrix.name)")
        var matrixRunner = MatrixRunner(rig: rig, progress: progress, jobs: jobs)
        matrixRunner.hosts = hosts
        let cells = try matrixRunner.run(matrix, store: store, command: command, night: night, output: output)
        let baseline = try store.lastCompleteNight(matrix: matrix.name, before: night)
        let baselineRuns = try baseline.map { try store.runs(night: $0.id).filter { $0.rerunOf == nil } } ?? []
        // A cell whose kernel did not build the night before has no run, only its MISS
        // in that night's verdict; without it, a kernel that still does not build was a
        // new regression every night. (Only MISS: a cell the host failed, ERROR, stays
        // unknown, so a kernel that stops building after it is still new.)
        let missedBefore = Self.missedCells(of: baseline) { progress.phase("nightly", $0) }

        var judged: [NightCell] = []
        var findings: [NightFinding] = []
        for cell in cells {
            let tonight = try cell.runID.map(store.record)
                ?? RunRecord(tests: [TestRecord(path: cell.spec, status: cell.status, detail: cell.buildError ?? cell.runError ?? "no run")], metrics: [])
            let before = baselineRuns.first { $0.cell == cell.kernel && $0.spec == cell.spec }
            let beforeRecord = try before.map { try store.record($0.id) }
                ?? (missedBefore.contains(MissedCell(cell: cell.kernel, spec: cell.spec))
                    ? RunRecord(tests: [TestRecord(path: cell.spec, status: .miss, detail: "no run")], metrics: []) : nil)
            let (rerunIDs, rerunRecords) = try rerun(cell, tonight: tonight, baseline: beforeRecord, night: night, store: store, command: command, output: output)
            var changes: [Comparison.Change] = []
            if let before, let id = cell.runID, let run = try store.run(id) {
                changes = try store.comparison(before, run).changes
            }
            judged.append(NightCell(cell: cell.kernel, spec: cell.spec, status: tonight.status, run: cell.runID, baselineRun: before?.id,
                                    reruns: rerunIDs, changes: changes, error: cell.buildError ?? cell.runError))
            findings += NightVerdict.findings(cell: cell.kernel, spec: cell.spec, tonight: tonight, baseline: beforeRecord, reruns: rerunRecords)
        }
        let verdict = NightVerdict(night: night, matrix: matrix.name, baseline: baseline?.id, cells: judged, findings: findings)
        try store.finishNight(night, baseline: baseline?.id, exitStatus: verdict.exitStatus, summary: try JSONCoding.encoder.encode(verdict))
        return verdict
    }

    /// Re-runs the workloads of a cell's new failures; each re-run is stored as a run of
    /// the night that repeats the cell's run. A re-run the host fails counts as failed.
    /// They run where the cell ran, so a failure rate is one host's, as the cell's was;
    /// a host lost since then leaves them to this machine.
    func rerun(_ cell: MatrixCell, tonight: RunRecord, baseline: RunRecord?, night: Int64, store: ResultStore, command: String,
               output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> ([Int64], [RunRecord]) {
        guard reruns > 0, let results = cell.results, let id = cell.runID, let kernel = cell.kernelImage else { return ([], []) }
        let failing = NightVerdict.newFailures(tonight, baseline: baseline)
        let names = Set(failing.compactMap(results.spec.caseName(of:)))
        guard !names.isEmpty else { return ([], []) }
        let image = try rig.image(progress: progress)
        var ids: [Int64] = []
        var records: [RunRecord] = []
        // Where the cell ran, while that host is up; once it is lost, here.
        var target = cell.host.flatMap { HostLoss.isLost($0) ? nil : $0 }
        for attempt in 1...reruns {
            guard !Cleanup.shared.interrupted else { break }
            while true {
                let place = cell.host.map { target == nil ? " on this machine (\($0) was lost)" : " on \($0)" } ?? ""
                progress.phase("nightly", "re-run \(attempt)/\(reruns) of \(cell.kernel) x \(cell.spec)\(place): \(names.sorted().joined(separator: ", "))")
                let recording = SpecRunner.Recording(store: store, command: command + " [\(cell.kernel)] re-run \(attempt) of run \(id)", specText: nil,
                                                     night: night, cell: cell.kernel, rerunOf: id)
                do {
                    let (_, rerunID) = try rig.on(host: target).run(results.spec.only(names), kernel: BootableKernel(image: kernel), image: image,
                                                                    recording: recording, output: output)
                    if let rerunID {
                        let record = try store.record(rerunID)
                        // A host lost under the re-run: its ERROR is the host's, not the
                        // kernel's. The run leaves the night, and the re-run runs here.
                        if let lost = target, HostLoss.isLost(lost), record.tests.contains(where: { $0.status == .error }) {
                            try? store.detachFromNight(rerunID)
                            progress.phase("nightly", "\(lost) was lost during re-run \(attempt); its run \(rerunID) is kept outside the night")
                            target = nil
                            continue
                        }
                        ids.append(rerunID)
                        records.append(record)
                    }
                } catch {
                    if let lost = target, HostLoss.isLost(lost) {
                        progress.phase("nightly", "\(lost) was lost during re-run \(attempt)")
                        target = nil
                        continue
                    }
                    records.append(RunRecord(tests: failing.map { TestRecord(path: $0, status: .error, detail: "re-run failed on the host: \(error)") }, metrics: []))
                }
                break
            }
        }
        return (ids, records)
    }

    /// The cells of `night`'s verdict that were MISS with no run. Only the cells' fields
    /// are read, so a newer daxrig's finding kinds in the same verdict do not matter; a
    /// verdict that cannot be read is said (`warn`), and its cells count as unknown.
    static func missedCells(of night: StoredNight?, warn: (String) -> Void) -> Set<MissedCell> {
        guard let night, let summary = night.summary else { return [] }
        struct Verdict: Decodable {
            struct Cell: Decodable { var cell: String; var spec: String; var status: TestStatus; var run: Int64? }
            var cells: [Cell]
        }
        do {
            let cells = try JSONCoding.decoder.decode(Verdict.self, from: Data(summary.utf8)).cells
            return Set(cells.filter { $0.status == .miss && $0.run == nil }.map { MissedCell(cell: $0.cell, spec: $0.spec) })
        } catch {
            warn("night \(night.id)'s verdict cannot be read (\(error)): its cells that did not build count as unknown tonight")
            return []
        }
    }
}

/// A matrix cell by its kernel and spec.
struct MissedCell: Hashable {
    var cell: String
    var spec: String
}
