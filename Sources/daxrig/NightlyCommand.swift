import ArgumentParser
import DaxRig
import Foundation
import DaxRigSupport
import DaxRigResults
import DaxRigRun
import DaxRigMachine

struct NightlyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nightly",
        abstract: "Run a matrix as one night: store it, compare it with the last complete night, re-run new failures, write the reports.",
        discussion: """
            Each cell is compared with the same kernel and spec of the last complete night of the same matrix
            name. A subtest that fails tonight but did not the night before is re-run --reruns times: failing in
            most of its runs makes it a regression, otherwise it is reported as flaky. The reports (report.xml
            JUnit, report.json, report.kcidb.json KCIDB v5, report.html with charts) go to --output, by default
            nights/<night> beside the store.
            Exit status: 0 every expectation held (flakes are reported, not counted); 1 a regression to FAIL, or a
            FAIL still there; 2 bad input; 3 only the rig failed (a kernel did not build, a boot never came up,
            ERROR).
            """)

    @Argument(help: "The matrix file (TOML, kernels/matrices/README.md).") var file: String
    @Option(help: "The results store (default: $DAXRIG_STORE, else results.sqlite in the cache).") var store: String?
    @Option(help: "Where to write the night's reports (default: nights/<night> beside the store).") var output: String?
    @Option(help: "Re-runs of each new failure before it is called a regression.") var reruns = 2
    @OptionGroup var placement: CellPlacement
    @Option(help: "The metric charted over nights.") var chartMetric = ReportSet.defaultHistoryMetric
    @Flag(help: "Print the verdict as JSON.") var json = false

    func validate() throws {
        guard (0...20).contains(reruns) else { throw ValidationError("--reruns takes 0 to 20, not \(reruns)") }
    }

    func run() throws {
        let progress = TerminalProgress()
        let (verdict, written) = try CLI.guarded { () -> (NightVerdict, [String]) in
            let matrix = try Matrix.load(file)
            let results = try ResultStore(path: store ?? ResultStore.defaultPath)
            var nightly = NightlyRunner(runner: GuestRunner(progress: progress), progress: progress, jobs: placement.jobs, reruns: reruns)
            nightly.hosts = try CLI.hosts(placement.hosts)
            let verdict = try nightly.run(
                matrix, file: file, store: results, command: (["daxrig"] + CommandLine.arguments.dropFirst()).joined(separator: " ")) { _, data in
                FileHandle.standardError.write(data)
            }
            let directory = output ?? URL(fileURLWithPath: results.path).deletingLastPathComponent()
                .appendingPathComponent("nights/\(verdict.night)").path
            let written = try ReportSet.night(verdict.night, store: results, historyMetric: chartMetric).writeAll(to: directory)
            return (verdict, written)
        }
        progress.finish()
        if json {
            try CLI.printJSON(verdict)
        } else {
            print(NightText.render(verdict))
        }
        for path in written { FileHandle.standardError.write(Data("wrote \(path)\n".utf8)) }
        throw ExitCode(verdict.exitStatus.rawValue)
    }
}
