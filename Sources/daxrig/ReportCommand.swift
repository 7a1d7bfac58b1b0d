import ArgumentParser
import DaxRig
import Foundation
import DaxRigSupport
import DaxRigResults

/// `daxrig report`: its modes are subcommands (`list`, `nights`, `show`, `night`);
/// `show` is the default, and takes the older flag spellings too (--list, --nights,
/// --night N, --last), so scripts written for them keep working.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "List the runs and nights in the results store, or write reports of one.",
        discussion: """
            daxrig report list                every run, newest first, incomplete ones (killed mid-run) included
            daxrig report nights              every night (daxrig nightly), newest first
            daxrig report show --last --junit r.xml --json r.json --kcidb r.kcidb.json --html r.html
            daxrig report night 3 --output dir    a night's four reports (report.xml, .json, .kcidb.json, .html)
            daxrig report 12                  a run's subtests and statuses (KernelCI's FAIL > ERROR > MISS > PASS > DONE > SKIP)
            The older spellings (report --list, --nights, --night N, --last) still work.
            Exit status: 0, 2 for a run or night that is not in the store, 3 when the store cannot be opened.
            """,
        subcommands: [Show.self, List.self, Nights.self, Night.self],
        defaultSubcommand: Show.self)

    /// What a report is of.
    enum Mode {
        case run(Int64), last, night(Int64), list, nights
    }

    /// Where the store is and what to write, for every mode.
    struct Options: ParsableArguments {
        @Option(help: "The results store (default: $DAXRIG_STORE, else results.sqlite in the cache).") var store: String?
        @Option(help: "Write JUnit XML to this file.") var junit: String?
        @Option(name: .customLong("json"), help: "Write JSON to this file.") var jsonFile: String?
        @Option(help: "Write KCIDB v5 JSON (KernelCI) to this file.") var kcidb: String?
        @Option(help: "Write the HTML report (charts included) to this file.") var html: String?
        @Option(help: "Write all four reports into this directory.") var output: String?
        @Option(help: "The metric the HTML report charts over time.") var chartMetric = ReportSet.defaultHistoryMetric
        @Flag(name: .customLong("print-json"), help: "Print the listing or the run as JSON.") var printJSON = false
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A run's subtests, or its reports written to files.")
        @Argument(help: "The run's id (see `report list`).") var runID: Int64?
        @Flag(help: "The newest complete run.") var last = false
        @Option(help: "A night instead of a run (see `report nights`).") var night: Int64?
        @Flag(help: "List the runs instead (as `report list`).") var list = false
        @Flag(help: "List the nights instead (as `report nights`).") var nights = false
        @OptionGroup var options: Options

        func validate() throws { _ = try mode() }

        func mode() throws -> Mode {
            let chosen: [Mode] = [runID.map(Mode.run), last ? .last : nil, night.map(Mode.night), list ? .list : nil, nights ? .nights : nil]
                .compactMap { $0 }
            if chosen.isEmpty { throw ValidationError("name a run, or give --last; or use `report list`, `report nights` or `report night N`") }
            if chosen.count > 1 { throw ValidationError("give one of a run, --last, --night, --list and --nights") }
            return chosen[0]
        }

        func run() throws { try ReportCommand.execute(try mode(), options) }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every run, newest first, incomplete ones included.")
        @OptionGroup var options: Options
        func run() throws { try ReportCommand.execute(.list, options) }
    }

    struct Nights: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every night, newest first.")
        @OptionGroup var options: Options
        func run() throws { try ReportCommand.execute(.nights, options) }
    }

    struct Night: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A night's verdict and runs, or its reports written to files.")
        @Argument(help: "The night's id (see `report nights`).") var id: Int64
        @OptionGroup var options: Options
        func run() throws { try ReportCommand.execute(.night(id), options) }
    }

    static func execute(_ mode: Mode, _ options: Options) throws {
        try CLI.guarded { () throws -> Void in
            let results = try ResultStore(path: options.store ?? ResultStore.defaultPath)
            let set: ReportSet
            switch mode {
            case .list:
                let runs = try results.runs()
                if options.printJSON { try CLI.printJSON(runs) } else { print(RunListing.render(runs)) }
                return
            case .nights:
                let nights = try results.nights()
                if options.printJSON { try CLI.printJSON(nights) } else { print(RunListing.render(nights: nights)) }
                return
            case let .night(night):
                set = try ReportSet.night(night, store: results, historyMetric: options.chartMetric)
            case .last:
                guard let chosen = try results.lastComplete() else { throw StoreError.noSuchRun("complete (--last)") }
                set = try ReportSet.run(chosen.id, store: results, historyMetric: options.chartMetric)
            case let .run(id):
                guard let chosen = try results.run(id) else { throw StoreError.noSuchRun("\(id)") }
                set = try ReportSet.run(chosen.id, store: results, historyMetric: options.chartMetric)
            }
            try write(set, options)
        }
    }

    private static func write(_ set: ReportSet, _ options: Options) throws {
        var written: [String] = []
        if let output = options.output { written += try set.writeAll(to: output) }
        if let junit = options.junit { try Files.write(set.junit, to: junit); written.append(junit) }
        if let kcidb = options.kcidb { try Files.write(set.kcidb(), to: kcidb); written.append(kcidb) }
        if let jsonFile = options.jsonFile { try Files.write(set.json(), to: jsonFile); written.append(jsonFile) }
        if let html = options.html { try Files.write(set.html, to: html); written.append(html) }
        for path in written { FileHandle.standardError.write(Data("wrote \(path)\n".utf8)) }
        if options.printJSON {
            print(String(decoding: try set.json(), as: UTF8.self))
        } else if written.isEmpty {
            if let verdict = set.verdict { print(NightText.render(verdict)) }
            print(RunListing.render(set.runs.map(\.run)))
            for report in set.runs {
                for test in report.tests {
                    print("  \(report.run.id) \(test.status.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)) \(test.path): \(test.detail)")
                }
            }
        }
    }
}
