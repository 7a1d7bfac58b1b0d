import DaxRig
import Foundation
import Testing
import DaxRigSupport
import DaxRigResults

/// `daxrig nightly` for real: the shipped small matrix twice (the second night compared
/// with the first), its four reports read by their real consumers, and a new failure
/// re-run and called a regression.
@Suite(.serialized, .timed) struct NightlyIntegrationTests {
    func decodeVerdict(_ json: String) throws -> NightVerdict {
        try JSONCoding.decoder.decode(NightVerdict.self, from: Data(json.utf8))
    }

    /// The "done when": a nightly over the shipped small matrix (unpatched and
    /// demo-patched 6.1) stores its runs and writes all four reports; a second nightly
    /// (two cells at once) compares with the first.
    @Test func twoNightsOfTheSmallMatrix() throws {
        _ = try Rig.defaultKernel()
        let directory = try Rig.scratch("nightly")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = directory.appendingPathComponent("results.sqlite").path
        let matrix = Rig.packageRoot.appendingPathComponent("kernels/matrices/small.toml").path

        let first = try Rig.run(["nightly", matrix, "--store", store, "--json"])
        #expect(first.status == 0, "\(first.standardError.suffix(2000))")
        let night1 = try decodeVerdict(first.standardOutput)
        #expect(night1.baseline == nil && night1.cells.count == 2 && night1.cells.allSatisfy { $0.status == .pass && $0.run != nil })
        let reports = directory.appendingPathComponent("nights/\(night1.night)")
        for name in ["report.xml", "report.json", "report.kcidb.json", "report.html"] {
            #expect(FileManager.default.fileExists(atPath: reports.appendingPathComponent(name).path), "\(name)")
        }

        // JUnit, read by junitparser: one suite per cell, all passed.
        let junit = try Command(Rig.python, ["-c", """
            import sys, junitparser
            for suite in junitparser.JUnitXml.fromfile(sys.argv[1]):
                print("suite", suite.name, suite.tests, suite.failures, suite.errors)
            """, reports.appendingPathComponent("report.xml").path]).run().standardOutput
        #expect(junit.contains("suite daxrig.unpatched.default 24 0 0"), "\(junit)")
        #expect(junit.contains("suite daxrig.demo-patch.default 24 0 0"), "\(junit)")
        // KCIDB, through kcidb-io's own validation of its newest schema: two kernels of one
        // source, one with the demo patch (a patch set hash), two builds with what KernelCI
        // correlates on, and no path of this host in any field.
        let kcidbPath = reports.appendingPathComponent("report.kcidb.json").path
        let kcidb = try Command(Rig.python, ["-c", """
            import sys, json, kcidb_io
            data = json.load(open(sys.argv[1]))
            kcidb_io.schema.LATEST.validate(data)
            assert (data["version"]["major"], data["version"]["minor"]) == (kcidb_io.schema.LATEST.major, kcidb_io.schema.LATEST.minor)
            hashes = sorted(c["patchset_hash"] for c in data["checkouts"])
            assert hashes[0] == "" and len(hashes[1]) == 64, hashes
            assert all(c["tree_name"] == "linux-source-6.1" for c in data["checkouts"]), data["checkouts"]
            assert all(b["config_name"].startswith("tinyconfig+") and b["compiler"].startswith("gcc") and b["duration"] >= 0 for b in data["builds"]), data["builds"]
            print("valid checkouts", len(data["checkouts"]), "builds", len(data["builds"]), "tests", len(data["tests"]))
            """, kcidbPath]).runAllowingFailure()
        #expect(kcidb.status == 0, "\(kcidb.standardError)")
        #expect(kcidb.standardOutput.contains("valid checkouts 2 builds 2 tests 48"), "\(kcidb.standardOutput)")
        let kcidbText = try Files.read(kcidbPath)
        for path in ["/root/", "/tmp/", "/work/", Rig.cache.root.path] {
            #expect(!kcidbText.contains(path), "a host path in KCIDB: \(path)")
        }

        let second = try Rig.run(["nightly", matrix, "--store", store, "--jobs", "2", "--json"])
        #expect(second.status == 0, "\(second.standardError.suffix(2000))")
        let night2 = try decodeVerdict(second.standardOutput)
        #expect(night2.baseline == night1.night)
        #expect(night2.cells.map(\.baselineRun) == night1.cells.map(\.run))
        #expect(night2.findings.isEmpty)
        let nights = try Rig.run(["report", "--nights", "--store", store])
        #expect(nights.standardOutput.components(separatedBy: " complete ").count - 1 == 2, "\(nights.standardOutput)")

        // The HTML of night 2, in headless Chromium: both charts in the DOM, the
        // history with both nights, and a screenshot with the series' colours in it.
        let html = directory.appendingPathComponent("nights/\(night2.night)/report.html").path
        let dom = try Command("chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://\(html)"]).run().standardOutput
        #expect(dom.components(separatedBy: "<svg").count - 1 == 2)
        #expect(dom.components(separatedBy: "<polyline").count - 1 >= 6, "a line per kernel and backing, and per workload over nights")
        #expect(dom.contains(">night \(night1.night)<") && dom.contains(">night \(night2.night)<"))
        let png = directory.appendingPathComponent("report.png").path
        let shot = try Command("chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1000,1100",
                                            "--screenshot=\(png)", "file://\(html)"]).runAllowingFailure()
        #expect(shot.status == 0, "\(shot.standardError.suffix(1000))")
        let pixels = try Command("python3", [Rig.packageRoot.appendingPathComponent("Tests/Support/png-pixels.py").path, png,
                                             SVGChart.palette[0], SVGChart.palette[1]]).run().standardOutput
        let counts = Dictionary(uniqueKeysWithValues: pixels.split(separator: "\n").compactMap { line -> (String, Int)? in
            let parts = line.split(separator: " ")
            return parts.count == 2 ? (String(parts[0]), Int(parts[1]) ?? 0) : nil
        })
        #expect((counts["nonwhite"] ?? 0) > 20_000, "the page is not blank: \(pixels)")
        #expect((counts[SVGChart.palette[0]] ?? 0) > 50 && (counts[SVGChart.palette[1]] ?? 0) > 50, "the series are drawn: \(pixels)")
    }

    /// A subtest that passed (or did not exist) last night and fails tonight is re-run,
    /// fails again, and is a regression: exit 1, the re-run stored as a run of the night.
    @Test func aNewFailureIsReRunAndCalledARegression() throws {
        _ = try Rig.defaultKernel()
        let directory = try Rig.scratch("nightly")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = directory.appendingPathComponent("results.sqlite").path
        let spec = directory.appendingPathComponent("flip.toml").path
        let matrix = directory.appendingPathComponent("matrix.toml").path
        try """
            name = "flip-test"
            specs = ["flip.toml"]
            [[kernel]]
            name = "unpatched"
            """.write(toFile: matrix, atomically: true, encoding: .utf8)
        func writeSpec(expect: String) throws {
            try """
                name = "flip"
                [[workload]]
                backing = ["fsdax-xfs"]
                processes = 3
                size = "1G"
                expect = ["\(expect)"]
                """.write(toFile: spec, atomically: true, encoding: .utf8)
        }
        // Unpatched 6.1 does not share FS/DAX tables: "private" holds, "shares" fails.
        try writeSpec(expect: "private")
        let first = try Rig.run(["nightly", matrix, "--store", store, "--json"])
        #expect(first.status == 0, "\(first.standardError.suffix(2000))")
        try writeSpec(expect: "shares")
        let second = try Rig.run(["nightly", matrix, "--store", store, "--reruns", "1"])
        #expect(second.status == 1, "\(second.standardOutput)\n\(second.standardError.suffix(2000))")
        #expect(second.standardOutput.contains("REGRESSION unpatched flip fsdax-xfs-n3.shares: absent -> FAIL, failed 2 of 2 runs"), "\(second.standardOutput)")
        let runs = try ResultStore(path: store).runs(night: 2)
        #expect(runs.count == 2)
        #expect(runs.last?.rerunOf == runs.first?.id && runs.last?.cell == "unpatched")
        let json = try String(contentsOfFile: directory.appendingPathComponent("nights/2/report.json").path, encoding: .utf8)
        #expect(json.contains("\"kind\" : \"regression\""), "\(json.prefix(1500))")
    }

    /// The same for a suite's test (issue 17), for real: a KTAP script added from the
    /// host, which the test rewrites between the nights. `flips` starts failing and is
    /// a regression, re-run by its suite; `known` fails every night and is listed as an
    /// expected failure, so it is no finding at all.
    @Test func aSuiteTestThatStartsFailingIsARegressionAndAKnownFailureIsNot() throws {
        _ = try Rig.defaultKernel()
        let directory = try Rig.scratch("nightly-suite")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = directory.appendingPathComponent("results.sqlite").path
        let matrix = directory.appendingPathComponent("matrix.toml").path
        try """
            name = "suite-flip"
            specs = ["flip.toml"]
            [[kernel]]
            name = "unpatched"
            """.write(toFile: matrix, atomically: true, encoding: .utf8)
        try """
            name = "flip"
            [[suite]]
            name = "own"
            command = "sh /root/t/flip.sh"
            add = ["flip.sh:/root/t/flip.sh"]
            expected-failures = "known.txt"
            """.write(toFile: directory.appendingPathComponent("flip.toml").path, atomically: true, encoding: .utf8)
        try "known  fails on purpose, every night\n".write(toFile: directory.appendingPathComponent("known.txt").path, atomically: true, encoding: .utf8)
        func writeScript(flips: String) throws {
            try "printf 'KTAP version 1\\n1..3\\nok 1 steady\\n\(flips) 2 flips\\nnot ok 3 known\\n'\n"
                .write(toFile: directory.appendingPathComponent("flip.sh").path, atomically: true, encoding: .utf8)
        }
        try writeScript(flips: "ok")
        let first = try Rig.run(["nightly", matrix, "--store", store, "--json"])
        #expect(first.status == 0, "\(first.standardOutput)\n\(first.standardError.suffix(2000))")
        try writeScript(flips: "not ok")
        let second = try Rig.run(["nightly", matrix, "--store", store, "--reruns", "1"])
        #expect(second.status == 1, "\(second.standardOutput)\n\(second.standardError.suffix(2000))")
        #expect(second.standardOutput.contains("REGRESSION unpatched flip own.flips: PASS -> FAIL, failed 2 of 2 runs"), "\(second.standardOutput)")
        #expect(!second.standardOutput.contains("own.known"), "\(second.standardOutput)")
        let runs = try ResultStore(path: store).runs(night: 2)
        #expect(runs.count == 2 && runs.last?.rerunOf == runs.first?.id)
    }
}
