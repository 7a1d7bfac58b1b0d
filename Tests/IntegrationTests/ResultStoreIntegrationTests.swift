import DaxRig
import Foundation
import Testing
import DaxRigSupport
import DaxRigResults

/// The results store and its reports, fed by real runs of the CLI.
@Suite(.serialized, .timed) struct ResultStoreIntegrationTests {
    /// A real run with a failing expectation, stored, written as JUnit XML and read back
    /// by junitparser (PyPI), as a CI system would; its KCIDB JSON passes kcidb-io.
    @Test func junitOfAStoredRunIsReadByAJUnitParser() throws {
        _ = try Rig.defaultKernel()
        let directory = try Rig.scratch("store")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = directory.appendingPathComponent("results.sqlite").path
        let spec = directory.appendingPathComponent("spec.toml").path
        try """
            name = "junit"
            [[workload]]
            backing = ["fsdax-xfs", "hugetlbfs"]
            processes = 3
            size = "1G"
            expect = ["shares", "no-leak"]
            """.write(toFile: spec, atomically: true, encoding: .utf8)
        let run = try Rig.run(["run", "--spec", spec, "--store", store])
        #expect(run.status == 1, "FS/DAX does not share on 6.1: \(run.standardError.suffix(1500))")
        #expect(run.standardError.contains("run 1 recorded in \(store)"))
        let junit = directory.appendingPathComponent("report.xml").path
        let kcidb = directory.appendingPathComponent("report.kcidb.json").path
        let report = try Rig.run(["report", "--last", "--store", store, "--junit", junit, "--kcidb", kcidb])
        #expect(report.status == 0, "\(report.standardError)")
        let parsed = try Command(Rig.python, ["-c", """
            import sys, junitparser
            xml = junitparser.JUnitXml.fromfile(sys.argv[1])
            for suite in xml:
                print("suite", suite.name, suite.tests, suite.failures, suite.errors)
                for case in suite:
                    print("case", case.classname, case.name, ",".join(type(r).__name__ for r in case.result) or "passed")
            """, junit]).run().standardOutput
        #expect(parsed.contains("suite daxrig.junit 4 1 0"), "\(parsed)")
        #expect(parsed.contains("case fsdax-xfs-n3 shares Failure"))
        #expect(parsed.contains("case hugetlbfs-n3 shares passed"))
        #expect(parsed.contains("case fsdax-xfs-n3 no-leak passed"))

        // KCIDB: kcidb-io's own schema validation, then what it holds.
        let validated = try Command(Rig.python, ["-c", """
            import sys, json, kcidb_io
            data = json.load(open(sys.argv[1]))
            kcidb_io.schema.LATEST.validate(data)
            print("valid", len(data["tests"]), sorted(t["status"] for t in data["tests"]))
            print("shares", [t.get("number", {}).get("value") for t in data["tests"] if t["path"] == "daxrig.fsdax-xfs-n3.shares"])
            """, kcidb]).runAllowingFailure()
        #expect(validated.status == 0, "\(validated.standardError)")
        #expect(validated.standardOutput.contains("valid 4 ['FAIL', 'PASS', 'PASS', 'PASS']"), "\(validated.standardOutput)")
        #expect(validated.standardOutput.contains("shares [3]"))
    }

    /// SIGKILL mid-run: the store lists the run as incomplete and stays sound.
    @Test func runKilledMidwayIsListedIncompleteAndTheStoreIsSound() throws {
        _ = try Rig.defaultKernel()
        let directory = try Rig.scratch("store")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = directory.appendingPathComponent("results.sqlite").path
        let (process, _, err) = try Rig.start(["run", "--backings", "hugetlbfs", "--processes", "100", "--store", store])
        // Wait until the guest is up: the run was begun in the store before the boot.
        let deadline = Date().addingTimeInterval(120)
        var seen = Data()
        while Date() < deadline {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
            if String(decoding: seen, as: UTF8.self).contains("[command]") { break }
        }
        #expect(String(decoding: seen, as: UTF8.self).contains("[command]"))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        // SIGKILL leaves the killed run's directory behind (nothing can clean up after
        // it but its next reader); the test removes it, files and all.
        defer {
            let runs = (try? FileManager.default.contentsOfDirectory(atPath: Rig.cache.runs.path)) ?? []
            for name in runs where name.hasPrefix("run-\(process.processIdentifier)-") {
                Files.remove(Rig.cache.runs.appendingPathComponent(name).path)
            }
        }

        let listed = try Rig.run(["report", "--list", "--print-json", "--store", store])
        #expect(listed.status == 0, "\(listed.standardError)")
        let runs = try JSONDecoder().decode([StoredRun].self, from: Data(listed.standardOutput.utf8))
        #expect(runs.map(\.state) == [.incomplete])
        #expect(runs.first?.status == nil)
        // The subcommand spelling lists the same (the flag is kept for older scripts).
        let subcommand = try Rig.run(["report", "list", "--print-json", "--store", store])
        #expect(subcommand.status == 0 && subcommand.standardOutput == listed.standardOutput, "\(subcommand.standardError)")
        #expect(try ResultStore(path: store).integrityCheck() == "ok")
        // AUTODESTROY: the killed daxrig's guest went with its libvirt connection.
        var left = try Rig.domainsLeft(by: process.processIdentifier)
        for _ in 0..<50 where !left.isEmpty {
            Thread.sleep(forTimeInterval: 0.2)
            left = try Rig.domainsLeft(by: process.processIdentifier)
        }
        #expect(left.isEmpty)

        // The killed run left its directory (backing file and all); the next boot, of
        // any daxrig, sweeps it (issue 14, item 7). Another test's boot may be that one.
        let next = try Rig.run(["boot", "--fs", "none", "--", "true"])
        #expect(next.status == 0, "\(next.standardError.suffix(2000))")
        #expect(Rig.runDirectoriesLeft(by: process.processIdentifier).isEmpty)
    }

    /// Issue 14, item 2: Ctrl-C at 20 random points of a run, half of them in its last
    /// second (the final store write). Whatever the point, a run that exits 130 is not
    /// complete in the store (or was never begun, or had committed its passing results
    /// before the signal came), and a run that got to finish (exit 0) is complete and
    /// passed: never a complete run of ERRORs that the teardown of the guest made. Seeded (DAXRIG_INTERRUPT_SEED) so a failing point can be rerun.
    @Test func ctrlCAtRandomPointsNeverLeavesACompleteRunOfAnInterruptedOne() throws {
        _ = try Rig.defaultKernel()
        let directory = try Rig.scratch("interrupts")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = directory.appendingPathComponent("results.sqlite").path
        let arguments = ["run", "--backings", "hugetlbfs", "--processes", "1", "--store", store]
        let clock = Date()
        let whole = try Rig.run(arguments)
        let duration = Date().timeIntervalSince(clock)
        #expect(whole.status == 0, "\(whole.standardError.suffix(1500))")
        var seed = UInt64(ProcessInfo.processInfo.environment["DAXRIG_INTERRUPT_SEED"] ?? "") ?? 20261202
        func uniform() -> Double {
            // SplitMix64: a generator a failing seed reproduces on any machine.
            seed &+= 0x9E37_79B9_7F4A_7C15
            var z = seed
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
        var outcomes: [String: Int] = [:]
        for trial in 0..<20 {
            let delay = trial % 2 == 0 ? uniform() * duration : max(0, duration - uniform())
            let before = try ResultStore(path: store).runs(limit: 1).first?.id ?? 0
            let process = try Rig.startDiscardingOutput(arguments)
            usleep(UInt32(delay * 1_000_000))
            kill(process.processIdentifier, SIGINT)
            process.waitUntilExit()
            let newest = try ResultStore(path: store).runs(limit: 1).first.flatMap { $0.id > before ? $0 : nil }
            let status = process.terminationStatus
            let seen = "trial \(trial) at \(String(format: "%.2f", delay)) s of \(String(format: "%.1f", duration)): exit \(status), "
                + (newest.map { "run \($0.id) \($0.state) \($0.status?.rawValue ?? "-")" } ?? "no run begun")
            switch (status, newest?.state) {
            case (128 + SIGINT, nil): outcomes["interrupted before the run began", default: 0] += 1
            case (128 + SIGINT, .incomplete): outcomes["interrupted, incomplete", default: 0] += 1
            case (0, .complete) where newest?.status == .pass: outcomes["finished first, complete", default: 0] += 1
            // The signal came after the final write had committed: the run did finish,
            // with the guest's own results (the teardown had nothing left to break).
            case (128 + SIGINT, .complete) where newest?.status == .pass: outcomes["interrupted after the final write", default: 0] += 1
            default: Issue.record("\(seen)")
            }
            #expect(Rig.runDirectoriesLeft(by: process.processIdentifier).isEmpty, "\(seen)")
            #expect(try Rig.domainsLeft(by: process.processIdentifier).isEmpty, "\(seen)")
        }
        #expect(try ResultStore(path: store).integrityCheck() == "ok")
        print("interrupts: \(outcomes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))")
    }
}

/// The shipped small matrix, run for real: two kernels of one tree, each built once
/// (or taken from the cache), each run recorded.
@Suite(.timed) struct MatrixIntegrationTests {
    @Test func smallMatrixRunsBothKernelsAndStoresBothRuns() throws {
        _ = try Rig.defaultKernel()
        let directory = try Rig.scratch("matrix")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = directory.appendingPathComponent("results.sqlite").path
        let output = try Rig.run(["matrix", Rig.packageRoot.appendingPathComponent("kernels/matrices/small.toml").path, "--store", store, "--json"])
        #expect(output.status == 0, "\(output.standardError.suffix(2000))")
        struct Cell: Decodable { var kernel: String; var spec: String; var status: String; var run: Int64? }
        let cells = try JSONDecoder().decode([Cell].self, from: Data(output.standardOutput.utf8))
        #expect(cells.map(\.kernel) == ["unpatched", "demo-patch"])
        // A cell that did not pass says why: its run's subtests, with the numbers
        // (CI, 2026-12-03: the unpatched kernel's fsdax-xfs-n10 failed data-intact and
        // private once, and nothing more was kept to tell why).
        #expect(cells.allSatisfy { $0.status == "PASS" && $0.run != nil })
        for cell in cells where cell.status != "PASS" {
            let shown = try cell.run.map { try Rig.run(["report", String($0), "--store", store]).standardOutput } ?? "no run stored"
            Issue.record("\(cell.kernel) x \(cell.spec): \(cell.status)\n\(shown)")
        }
        let runs = try ResultStore(path: store).runs()
        #expect(runs.count == 2 && runs.allSatisfy { $0.state == .complete && $0.status == .pass })
        #expect(Set(runs.compactMap(\.kernelKey)).count == 2)

        // The demo patch only prints a boot message: no subtest changes status.
        let compared = try Rig.run(["compare", "1", "2", "--store", store])
        #expect(compared.status == 0, "\(compared.standardError)")
        #expect(compared.standardOutput.contains("no status changes"), "\(compared.standardOutput)")
        #expect(try Rig.run(["compare", "1", "9", "--store", store]).status == 2)
    }
}
