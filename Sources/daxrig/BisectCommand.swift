import ArgumentParser
import DaxRig
import Foundation
import DaxRigSupport
import DaxRigResults
import DaxRigRun

struct BisectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bisect",
        abstract: "Find the commit that broke a spec: git bisect with daxrig building, booting and judging each commit.",
        discussion: """
            daxrig bisect --git ~/linux --good v6.1 --bad HEAD --spec kernels/bisect-demo/no-fallback.toml --expect no-fallback
            daxrig bisect --resume        carry on an interrupted bisect (every finished step is kept)
            daxrig bisect --log           git bisect's own log of it (git bisect replay takes it)
            daxrig bisect --reset         drop it (cached kernels and stored runs stay)
            The endpoints are checked first: good must pass and bad must fail the oracle. A commit that does not
            build is skipped (its build log kept). A failure of the host rather than the commit (a full disk, an
            OOM-killed make, a boot lost to libvirt twice) stops the bisect with nothing told to git: --resume
            tests that commit again. With --runs N a commit is good only when all N runs pass, and runs that
            disagree are doubled. Bisecting happens in daxrig's own bare clone: your checkout and its bisect state
            are not touched. Paths are kept absolute, so --resume works from any directory; one bisect at a time
            per --state directory.
            Exit status: 0 the first bad commit (or the range skips left) named; 2 bad input, an endpoint that
            does not behave, or a bisect already running there; 3 the rig or git failed.
            """)

    @Option(help: "The git repository to bisect.") var git: String?
    @Option(help: "A commit the spec passes on.") var good: String?
    @Option(help: "A commit the spec fails on.") var bad: String?
    @Option(help: "The spec (TOML) each commit runs.") var spec: String?
    @Option(help: "An expectation that decides (repeatable); default: any subtest of the spec.") var expect: [String] = []
    @Option(help: "A metric that decides, with --above or --below, e.g. pte_fallback_pages.") var metric: String?
    @Option(help: "Bad when the metric of a workload is above this.") var above: Double?
    @Option(help: "Bad when the metric of a workload is below this.") var below: Double?
    @Option(help: "Runs per commit; good only when all pass.") var runs = 1
    @OptionGroup var build: BuildOptions
    @Option(help: "The results store (default: $DAXRIG_STORE, else results.sqlite in the cache).") var store: String?
    @Option(help: "Where the bisect keeps its state and repository (default: bisect/ in the cache).") var state: String?
    @Flag(help: "Carry on the bisect in progress.") var resume = false
    @Flag(help: "Print git bisect's log of the bisect.") var log = false
    @Flag(help: "Drop the bisect in progress.") var reset = false
    @Flag(help: "Print the result as JSON.") var json = false

    func validate() throws {
        let modes = [resume, log, reset].filter { $0 }.count
        if modes > 1 { throw ValidationError("give one of --resume, --log and --reset") }
        if modes == 0 {
            for (name, value) in [("--git", git), ("--good", good), ("--bad", bad), ("--spec", spec)] where value == nil {
                throw ValidationError("a new bisect needs \(name) (and --git, --good, --bad, --spec); or give --resume, --log or --reset")
            }
        }
        if (above != nil || below != nil) && metric == nil { throw ValidationError("--above and --below go with --metric") }
        if metric != nil && above == nil && below == nil { throw ValidationError("--metric needs --above or --below") }
        guard (1...20).contains(runs) else { throw ValidationError("--runs takes 1 to 20, not \(runs)") }
    }

    func run() throws {
        let progress = TerminalProgress()
        let bisect = BisectRunner(runner: GuestRunner(progress: progress), progress: progress,
                                  directory: state.map { URL(fileURLWithPath: $0) })
        if reset {
            try CLI.guarded { try bisect.reset() }
            print("bisect dropped")
            return
        }
        if log {
            print(try CLI.guarded { try bisect.log() }, terminator: "")
            return
        }
        let result = try CLI.guarded { () throws -> BisectState in
            if resume { return try bisect.resume() }
            let request = BisectRequest(
                repository: git!, good: good!, bad: bad!, specPath: spec!,
                oracle: BisectOracle(expectations: expect, metric: metric, above: above, below: below), runs: runs,
                patches: build.patches, base: build.base, fragments: build.fragments, assignments: build.overrides,
                store: store ?? ResultStore.defaultPath)
            return try bisect.start(request)
        }
        progress.finish()
        if json {
            print(String(decoding: try JSONCoding.encoder.encode(result), as: UTF8.self))
        } else {
            print(BisectReport.render(result))
        }
    }
}
