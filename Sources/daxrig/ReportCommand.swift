import ArgumentParser
import DaxRig
import Foundation

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "List the runs in the results store, or write reports of one.",
        discussion: """
            daxrig report --list              every run, newest first, incomplete ones (killed mid-run) included
            daxrig report --last --junit r.xml --json r.json --kcidb r.kcidb.json
            daxrig report 12                  a run's subtests and statuses (KernelCI's FAIL > ERROR > MISS > PASS > DONE > SKIP)
            Exit status: 0, 2 for a run that is not in the store, 3 when the store cannot be opened.
            """)

    @Argument(help: "The run's id (see --list).") var runID: Int64?
    @Flag(help: "The newest complete run.") var last = false
    @Flag(help: "List the runs instead.") var list = false
    @Option(help: "The results store (default: $DAXRIG_STORE, else results.sqlite in the cache).") var store: String?
    @Option(help: "Write the run as JUnit XML to this file.") var junit: String?
    @Option(name: .customLong("json"), help: "Write the run as JSON to this file.") var jsonFile: String?
    @Option(help: "Write the run as KCIDB v5 JSON (KernelCI) to this file.") var kcidb: String?
    @Flag(name: .customLong("print-json"), help: "Print the listing or the run as JSON.") var printJSON = false

    func validate() throws {
        if !list && runID == nil && !last { throw ValidationError("name a run, or give --last or --list") }
        if runID != nil && last { throw ValidationError("give a run or --last, not both") }
    }

    func run() throws {
        try CLI.guarded { () throws -> Void in
            let results = try ResultStore(path: store ?? ResultStore.defaultPath)
            if list {
                let runs = try results.runs()
                if printJSON {
                    print(String(decoding: try JSONCoding.encoder.encode(runs), as: UTF8.self))
                } else {
                    print(RunListing.render(runs))
                }
                return
            }
            let chosen = try last ? results.lastComplete() : results.run(runID!)
            guard let chosen else { throw StoreError.noSuchRun(last ? "complete (--last)" : "\(runID!)") }
            let record = try results.record(chosen.id)
            let report = StoredRunReport(run: chosen, record: record, artifacts: try results.artifacts(chosen.id).map { .init(kind: $0.kind, path: $0.path) })
            if let junit {
                try Files.write(JUnitReport.render(run: chosen, record: record), to: junit)
                FileHandle.standardError.write(Data("wrote JUnit XML to \(junit)\n".utf8))
            }
            if let kcidb {
                try Files.write(KCIDBReport.json(run: chosen, record: record), to: kcidb)
                FileHandle.standardError.write(Data("wrote KCIDB JSON to \(kcidb)\n".utf8))
            }
            if let jsonFile {
                try Files.write(JSONCoding.encoder.encode(report), to: jsonFile)
                FileHandle.standardError.write(Data("wrote JSON to \(jsonFile)\n".utf8))
            }
            if printJSON {
                print(String(decoding: try JSONCoding.encoder.encode(report), as: UTF8.self))
            } else if junit == nil && jsonFile == nil && kcidb == nil {
                print(RunListing.render([chosen]))
                for test in record.tests { print("  \(test.status.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)) \(test.path): \(test.detail)") }
            }
        }
    }
}
