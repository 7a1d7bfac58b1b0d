import ArgumentParser
import DaxRig
import Foundation
import DaxRigSupport
import DaxRigResults
import DaxRigRun
import DaxRigMachine

/// `daxrig bisect`: `start` (the default), `resume`, `log` and `reset` are subcommands;
/// `start` still takes the older --resume, --log and --reset flags, so scripts written
/// for them keep working.
struct BisectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bisect",
        abstract: "Find the commit that broke a spec: git bisect with daxrig building, booting and judging each commit.",
        discussion: """
            daxrig bisect start --git ~/linux --good v6.1 --bad HEAD --spec kernels/bisect-demo/no-fallback.toml --expect no-fallback
            daxrig bisect resume        carry on an interrupted bisect (every finished step is kept)
            daxrig bisect log           git bisect's own log of it (git bisect replay takes it)
            daxrig bisect reset         drop it (cached kernels and stored runs stay)
            `start` is the default; the older spellings (bisect --resume, --log, --reset) still work.
            The endpoints are checked first: good must pass and bad must fail the oracle. A commit that does not
            build is skipped (its build log kept). A failure of the host rather than the commit (a full disk, an
            OOM-killed make, a boot lost to libvirt twice) stops the bisect with nothing told to git: --resume
            tests that commit again. With --runs N a commit is good only when all N runs pass, and runs that
            disagree are doubled. Bisecting happens in daxrig's own bare clone: your checkout and its bisect state
            are not touched. Paths are kept absolute, so --resume works from any directory; one bisect at a time
            per --state directory.
            Exit status: 0 the first bad commit (or the range skips left) named; 2 bad input, an endpoint that
            does not behave, or a bisect already running there; 3 the rig or git failed.
            """,
        subcommands: [Start.self, Resume.self, Log.self, Reset.self],
        defaultSubcommand: Start.self)

    /// Where the bisect keeps its state, and how its result is printed: for every mode.
    struct Shared: ParsableArguments {
        @Option(help: "Where the bisect keeps its state and repository (default: bisect/ in the cache).") var state: String?
        @Flag(help: "Print the result as JSON.") var json = false
        @Option(help: ArgumentHelp("Boot each commit's kernel on this libvirt host (qemu+ssh://user@host/system, "
            + "qemu+tls://host/system); the kernels are built here and go up as volumes.", valueName: "uri"))
        var host: String?

        func validate() throws { _ = try CLI.host(host) }
    }

    /// What to do: a new bisect carries its request, so no mode can lack one.
    enum Mode { case start(BisectRequest), resume, log, reset }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Carry on the bisect in progress.")
        @OptionGroup var shared: Shared
        func run() throws { try BisectCommand.execute(.resume, shared) }
    }

    struct Log: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print git bisect's log of the bisect.")
        @OptionGroup var shared: Shared
        func run() throws { try BisectCommand.execute(.log, shared) }
    }

    struct Reset: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drop the bisect in progress (cached kernels and stored runs stay).")
        @OptionGroup var shared: Shared
        func run() throws { try BisectCommand.execute(.reset, shared) }
    }

    static func execute(_ mode: Mode, _ shared: Shared) throws {
        let progress = TerminalProgress()
        var runner = GuestRunner(progress: progress)
        runner.policy.host = try CLI.host(shared.host)
        let bisect = BisectRunner(runner: runner, progress: progress,
                                  directory: shared.state.map { URL(fileURLWithPath: $0) })
        let result: BisectState
        switch mode {
        case .reset:
            try CLI.guarded { try bisect.reset() }
            print("bisect dropped")
            return
        case .log:
            print(try CLI.guarded { try bisect.log() }, terminator: "")
            return
        case .resume:
            result = try CLI.guarded { try bisect.resume() }
        case let .start(request):
            result = try CLI.guarded { try bisect.start(request) }
        }
        progress.finish()
        if shared.json {
            try CLI.printJSON(result)
        } else {
            print(BisectReport.render(result))
        }
    }
}

/// A new bisect, or (with the older flags) any mode.
struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start a bisect (the default).")

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
    @Flag(help: "Carry on the bisect in progress (as `bisect resume`).") var resume = false
    @Flag(help: "Print git bisect's log of the bisect (as `bisect log`).") var log = false
    @Flag(help: "Drop the bisect in progress (as `bisect reset`).") var reset = false
    @OptionGroup var shared: BisectCommand.Shared

    func validate() throws {
        let modes = [resume, log, reset].filter { $0 }.count
        if modes > 1 { throw ValidationError("give one of --resume, --log and --reset") }
        if modes == 0 {
            for (name, value) in [("--git", git), ("--good", good), ("--bad", bad), ("--spec", spec)] where value == nil {
                throw ValidationError("a new bisect needs \(name) (and --git, --good, --bad, --spec); or `bisect resume`, `bisect log` or `bisect reset`")
            }
        }
        if (above != nil || below != nil) && metric == nil { throw ValidationError("--above and --below go with --metric") }
        if metric != nil && above == nil && below == nil { throw ValidationError("--metric needs --above or --below") }
        guard (1...20).contains(runs) else { throw ValidationError("--runs takes 1 to 20, not \(runs)") }
    }

    func run() throws {
        if resume || log || reset {
            return try BisectCommand.execute(resume ? .resume : log ? .log : .reset, shared)
        }
        // validate() made sure a new bisect has --git, --good, --bad and --spec.
        try BisectCommand.execute(.start(BisectRequest(
            repository: git!, good: good!, bad: bad!, specPath: spec!,
            oracle: BisectOracle(expectations: expect, metric: metric, above: above, below: below), runs: runs,
            patches: build.patches, base: build.base, fragments: build.fragments, assignments: build.overrides,
            store: store ?? ResultStore.defaultPath)), shared)
    }
}
