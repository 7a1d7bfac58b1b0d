import ArgumentParser
import DaxRig
import Foundation
import DaxRigSupport
import DaxRigResults

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "List the runs and nights in the results store, or write reports of one.",
        discussion: """
            daxrig report --list              every run, newest first, incomplete ones (killed mid-run) included
            daxrig report --nights            every night (daxrig nightly), newest first
            daxrig report --last --junit r.xml --json r.json --kcidb r.kcidb.json --html r.html
            daxrig report --night 3 --output dir    a night's four reports (report.xml, .json, .kcidb.json, .html)
            daxrig report 12                  a run's subtests and statuses (KernelCI's FAIL > ERROR > MISS > PASS > DONE > SKIP)
            Exit status: 0, 2 for a run or night that is not in the store, 3 when the store cannot be opened.
            """)

    @Argument(help: "The run's id (see --list).") var runID: Int64?
    @Flag(help: "The newest complete run.") var last = false
    @Option(help: "A night instead of a run (see --nights).") var night: Int64?
    @Flag(help: "List the runs instead.") var list = false
    @Flag(help: "List the nights instead.") var nights = false
    @Option(help: "The results store (default: $DAXRIG_STORE, else results.sqlite in the cache).") var store: String?
    @Option(help: "Write JUnit XML to this file.") var junit: String?
    @Option(name: .customLong("json"), help: "Write JSON to this file.") var jsonFile: String?
    @Option(help: "Write KCIDB v5 JSON (KernelCI) to this file.") var kcidb: String?
    @Option(help: "Write the HTML report (charts included) to this file.") var html: String?
    @Option(help: "Write all four reports into this directory.") var output: String?
    @Option(help: "The metric the HTML report charts over time.") var chartMetric = ReportSet.defaultHistoryMetric
    @Flag(name: .customLong("print-json"), help: "Print the listing or the run as JSON.") var printJSON = false

    func validate() throws {
        let chosen = [runID != nil, last, night != nil, list, nights].filter { $0 }.count
        if chosen == 0 { throw ValidationError("name a run, or give --last, --night N, --list or --nights") }
        if chosen > 1 { throw ValidationError("give one of a run, --last, --night, --list and --nights") }
    }

    func run() throws {
        try CLI.guarded { () throws -> Void in
            let results = try ResultStore(path: store ?? ResultStore.defaultPath)
            if list || nights {
                if printJSON {
                    let data = list ? try JSONCoding.encoder.encode(try results.runs()) : try JSONCoding.encoder.encode(try results.nights())
                    print(String(decoding: data, as: UTF8.self))
                } else {
                    print(list ? RunListing.render(try results.runs()) : RunListing.render(nights: try results.nights()))
                }
                return
            }
            let set: ReportSet
            if let night {
                set = try ReportSet.night(night, store: results, historyMetric: chartMetric)
            } else {
                guard let chosen = try last ? results.lastComplete() : results.run(runID!) else {
                    throw StoreError.noSuchRun(last ? "complete (--last)" : "\(runID!)")
                }
                set = try ReportSet.run(chosen.id, store: results, historyMetric: chartMetric)
            }
            var written: [String] = []
            if let output { written += try set.writeAll(to: output) }
            if let junit { try Files.write(set.junit, to: junit); written.append(junit) }
            if let kcidb { try Files.write(set.kcidb(), to: kcidb); written.append(kcidb) }
            if let jsonFile { try Files.write(set.json(), to: jsonFile); written.append(jsonFile) }
            if let html { try Files.write(set.html, to: html); written.append(html) }
            for path in written { FileHandle.standardError.write(Data("wrote \(path)\n".utf8)) }
            if printJSON {
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
}
