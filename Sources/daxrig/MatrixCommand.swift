import ArgumentParser
import DaxRig
import Foundation
import DaxRigSupport
import DaxRigResults
import DaxRigRun
import DaxRigMachine

struct MatrixCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matrix",
        abstract: "Run every kernel x spec of a matrix file, recording each run in the results store.",
        discussion: """
            The format is in kernels/matrices/README.md. Each kernel is built once; each spec's workloads share
            boots. Exit status: 0 every expectation held, 1 a test failed, 2 bad input, 3 a run gave no report or
            a kernel did not build.
            """)

    @Argument(help: "The matrix file (TOML).") var file: String
    @Option(help: "The results store (default: $DAXRIG_STORE, else results.sqlite in the cache).") var store: String?
    @OptionGroup var placement: CellPlacement
    @Flag(help: "Print the cells as JSON.") var json = false

    struct Cell: Codable {
        var kernel: String
        var spec: String
        var status: TestStatus
        var run: Int64?
        var error: String?
    }

    func run() throws {
        let progress = TerminalProgress()
        let cells = try CLI.guarded { () -> [MatrixCell] in
            let matrix = try Matrix.load(file)
            let results = try ResultStore(path: store ?? ResultStore.defaultPath)
            var runner = MatrixRunner(runner: GuestRunner(progress: progress), progress: progress, jobs: placement.jobs)
            runner.hosts = try CLI.hosts(placement.hosts)
            return try runner.run(
                matrix, store: results, command: (["daxrig"] + CommandLine.arguments.dropFirst()).joined(separator: " ")) { _, data in
                FileHandle.standardError.write(data)
            }
        }
        progress.finish()
        let rows = cells.map { Cell(kernel: $0.kernel, spec: $0.spec, status: $0.status, run: $0.runID, error: $0.buildError ?? $0.runError) }
        if json {
            try CLI.printJSON(rows)
        } else {
            print(MatrixTable.render(cells))
        }
        throw ExitCode(ExitStatus.of(cells.flatMap(\.statuses)).rawValue)
    }
}
