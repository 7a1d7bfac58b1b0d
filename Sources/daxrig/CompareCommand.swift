import ArgumentParser
import DaxRig
import Foundation
import DaxRigSupport
import DaxRigResults

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two stored runs: status transitions, and metric changes beyond the noise.",
        discussion: """
            Each side's samples are every complete run of the same kernel and spec in the store, so repeated runs
            give each metric its noise (the spread of its samples); a change within the noise is not reported.
            Exit status: 0 no new failure, 1 a subtest regressed (PASS to FAIL or ERROR), 2 a run not in the store.
            """)

    @Argument(help: "The earlier run's id.") var before: Int64
    @Argument(help: "The later run's id.") var after: Int64
    @Option(help: "The results store (default: $DAXRIG_STORE, else results.sqlite in the cache).") var store: String?
    @Flag(help: "Print the comparison as JSON.") var json = false

    func run() throws {
        let comparison = try CLI.guarded { () throws -> Comparison in
            let results = try ResultStore(path: store ?? ResultStore.defaultPath)
            guard let a = try results.run(before) else { throw StoreError.noSuchRun("\(before)") }
            guard let b = try results.run(after) else { throw StoreError.noSuchRun("\(after)") }
            let comparison = try results.comparison(a, b)
            if json {
                try CLI.printJSON(comparison)
            } else {
                print(ComparisonText.render(comparison, before: a, after: b))
            }
            return comparison
        }
        if !comparison.regressions.isEmpty { throw ExitCode(1) }
    }
}
