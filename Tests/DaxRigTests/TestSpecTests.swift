import DaxRig
import DaxRigProtocol
import Foundation
import Testing
import DaxRigSupport
import DaxRigRun

@Suite struct TestSpecTests {
    static let specs = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("kernels/specs")

    func parse(_ text: String) throws -> TestSpec { try TestSpec.parse(text, path: "t.toml") }

    /// The error a spec gives, or a recorded issue when it parses.
    func failure(_ text: String) -> InputFileError? {
        do {
            _ = try parse(text)
            Issue.record("parsed: \(text)")
            return nil
        } catch let error as InputFileError {
            return error
        } catch {
            Issue.record("not an InputFileError: \(error)")
            return nil
        }
    }

    @Test func everyShippedSpecParses() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.specs.path).filter { $0.hasSuffix(".toml") }.sorted()
        #expect(names.contains("default.toml") && names.contains("persistence.toml") && names.contains("modes.toml"))
        for name in names {
            let spec = try TestSpec.load(Self.specs.appendingPathComponent(name).path)
            #expect(!spec.workloads.isEmpty || !spec.persistence.isEmpty || !spec.stress.isEmpty || !spec.suites.isEmpty, "\(name)")
        }
    }

    @Test func builtInIsTheShippedDefault() throws {
        #expect(try TestSpec.load(Self.specs.appendingPathComponent("default.toml").path) == TestSpec.builtIn)
    }

    @Test func listsExpandAndDefaultsApply() throws {
        let spec = try parse("""
            name = "x"
            [defaults]
            size = "512M"
            processes = [1, 10]
            expect = ["no-leak"]

            [[workload]]
            backing = ["fsdax-xfs", "hugetlbfs"]
            expect = ["shares", "no-leak"]

            [[workload]]
            name = "odd"
            backing = "fsdax-ext4"
            processes = 3
            size = 4194304
            access = "every-4k"
            aligned = false
            map-sync = true
            """)
        #expect(spec.workloads.map(\.spec.name) == ["fsdax-xfs-n1", "fsdax-xfs-n10", "hugetlbfs-n1", "hugetlbfs-n10", "odd-n3"])
        #expect(spec.workloads[0].expectations == [.noLeak, .shares])
        #expect(spec.workloads[0].spec.mappingBytes == 512 << 20)
        let odd = spec.workloads[4].spec
        #expect(odd == WorkloadSpec(name: "odd-n3", backing: .fsdaxExt4, processes: 3, mappingBytes: 4 << 20, pudAligned: false, access: .every4K, mapSync: true))
    }

    @Test func persistenceExpandsPerBackingAndSync() throws {
        let spec = try TestSpec.load(Self.specs.appendingPathComponent("persistence.toml").path)
        let plain = spec.persistence.filter { !$0.spec.rewrite }
        #expect(plain.map(\.spec.name) == ["persist-fsdax-xfs-msync", "persist-fsdax-xfs-map-sync", "persist-fsdax-ext4-msync", "persist-fsdax-ext4-map-sync"])
        #expect(plain.allSatisfy { $0.expectations == [.dataIntact, .kernelLogClean] && $0.spec.bytes == 256 << 20 && $0.spec.writers == 4 })
        let rewrites = spec.persistence.filter(\.spec.rewrite)
        #expect(rewrites.map(\.spec.name) == ["rewrite-fsdax-xfs-msync", "rewrite-fsdax-xfs-map-sync"])
        #expect(rewrites.allSatisfy { $0.spec.bytes == 1 << 30 && $0.spec.fileBytes == 1 << 30 && $0.spec.rewriteOffset == 0 })
    }

    /// A rewrite check maps whole GiB from its offset on: the file is that much longer,
    /// the check reads the range the rewriters stored to (64 MiB), and wants their pattern.
    @Test func aRewriteOffsetMovesTheCheckedRangeAndThePattern() throws {
        let spec = try TestSpec.load(Self.specs.appendingPathComponent("adversarial.toml").path)
        let check = try #require(spec.persistence.first { $0.spec.name == "f1-rewrite-4k-fsdax-xfs-msync" }?.spec)
        #expect(check.rewrite && check.rewriteOffset == 4096 && check.mappingBytes == 1 << 30 && check.fileBytes == (1 << 30) + 4096)
        #expect(check.checkedRange == 4096..<((64 << 20) + 4096))
        // Without rewrite a check maps what it stores; with it, whole GiB.
        #expect(PersistenceSpec(name: "p", backing: .fsdaxXfs, bytes: 3 << 29).mappingBytes == 3 << 29)
        #expect(PersistenceSpec(name: "p", backing: .fsdaxXfs, bytes: 3 << 29, rewrite: true).mappingBytes == 2 << 30)
        #expect(check.checkedSeed == check.rewriteSeed && check.rewriteSeed != check.patternSeed)
        // Stored before rewrite existed: decodes as a plain check.
        let old = #"{"name":"p","backing":"fsdax-xfs","bytes":2097152,"writers":1,"sync":"msync"}"#
        let decoded = try JSONDecoder().decode(PersistenceSpec.self, from: Data(old.utf8))
        #expect(decoded == PersistenceSpec(name: "p", backing: .fsdaxXfs, bytes: 2 << 20, writers: 1) && decoded.checkedSeed == decoded.patternSeed)
        let roundTrip = try JSONDecoder().decode(PersistenceSpec.self, from: JSONEncoder().encode(check))
        #expect(roundTrip == check)
    }

    @Test func errorsNameTheLineTheKeyAndWhatToDo() {
        let unknown = failure("""
            name = "x"

            [[workload]]
            backing = "fsdax-xfs"

            [[workload]]
            backing = "hugetlbfs"
            procesess = 10
            """)
        #expect(unknown?.line == 8)
        #expect(unknown?.key == "procesess")
        #expect(unknown?.description.hasPrefix("t.toml:8: procesess: unknown key in [[workload]] #2 (known keys: name, backing, processes") == true)

        let backing = failure("[[workload]]\nbacking = [\"fsdax-xfs\", \"fsdax-btrfs\"]\n")
        #expect(backing?.line == 2)
        #expect(backing?.description.contains("'fsdax-btrfs' is not one of fsdax-xfs, fsdax-ext4, hugetlbfs, tmpfs") == true)

        let size = failure("[defaults]\nsize = \"3M\"\n[[workload]]\nbacking = \"tmpfs\"\n")
        #expect(size?.line == 3)  // the workload it makes wrong; the value itself is in [defaults]
        #expect(size?.description.contains("3 MiB is not a whole number of 2 MiB regions") == true)

        let processes = failure("[[workload]]\nbacking = \"tmpfs\"\nprocesses = [1, 20000]\n")
        #expect(processes?.line == 3)
        #expect(processes?.description.contains("20000 processes: use 1 to 10000") == true)

        let type = failure("[[workload]]\nbacking = \"tmpfs\"\naligned = \"yes\"\n")
        #expect(type?.description == "t.toml:3: aligned: must be true or false, not string")

        let syntax = failure("name = \"x\"\n[[workload]]\nbacking = \n")
        #expect(syntax?.line == 3)
        #expect(syntax?.description.contains("not valid TOML") == true)

        let empty = failure("name = \"nothing\"\n")
        #expect(empty?.description.contains("the spec names no [[workload]], no [[persistence]], no [[stress]] and no [[suite]]") == true)

        let twice = failure("[[workload]]\nbacking = \"tmpfs\"\n[[workload]]\nbacking = \"tmpfs\"\n")
        #expect(twice?.description.contains("two runs are named 'tmpfs-n1'") == true)

        let mapSync = failure("[[workload]]\nbacking = \"hugetlbfs\"\nmap-sync = true\n")
        #expect(mapSync?.line == 3)

        let persist = failure("[[persistence]]\nbacking = \"tmpfs\"\n")
        #expect(persist?.description.contains("persistence needs pmem") == true)

        let alone = failure("[[persistence]]\nrewrite-offset = \"4K\"\n")
        #expect(alone?.line == 2 && alone?.description.contains("without rewrite = true") == true)
        let unaligned = failure("[[persistence]]\nrewrite = true\nrewrite-offset = 100\n")
        #expect(unaligned?.line == 3 && unaligned?.description.contains("not a whole number of 4 KiB pages") == true)
        let beyond = failure("[[persistence]]\nsize = \"2M\"\nrewrite = true\nrewrite-offset = \"2M\"\n")
        #expect(beyond?.line == 4)
        let noCPUs = failure("cpus = 0\n[[workload]]\nbacking = \"tmpfs\"\n")
        #expect(noCPUs?.line == 1 && noCPUs?.description.contains("cpus: 0 vCPUs: use 1 to 255") == true)
        #expect((try? TestSpec.parse("cpus = 8\n[[workload]]\nbacking = \"tmpfs\"\n", path: "t.toml"))?.cpus == 8)
        let softDirty = try? TestSpec.parse("[[stress]]\nops = [\"soft-dirty\", \"msync\", \"gup\"]\nsharers = 1\n", path: "t.toml")
        #expect(softDirty?.stress.first?.spec.ops == [.softDirty, .msync, .gup])
    }

    @Test func missingFileSaysSo() {
        #expect(throws: InputFileError(file: "/nonexistent.toml", line: nil, key: nil, message: "no such file", hint: "check the path")) {
            try TestSpec.load("/nonexistent.toml")
        }
    }

    @Test func commandLineOverridesReplaceCountsAndSizeAndFilterBackings() throws {
        let spec = try TestSpec.builtIn.overriding(processes: [2, 3], size: 64 << 20, backings: [.hugetlbfs, .fsdaxXfs])
        #expect(spec.workloads.map(\.spec.name) == ["fsdax-xfs-n2", "fsdax-xfs-n3", "hugetlbfs-n2", "hugetlbfs-n3"])
        #expect(spec.workloads.allSatisfy { $0.spec.mappingBytes == 64 << 20 })
        #expect(spec.workloads[2].expectations.contains(.shares))
        #expect(throws: SpecOverrideError.self) { try TestSpec.builtIn.overriding(processes: nil, size: nil, backings: [.tmpfs]) }
    }

    /// `--only`: exact names and globs over every kind of case; a pattern that matches
    /// nothing is refused with the names the spec has, never run as an empty pass.
    @Test func selectingTakesNamesAndGlobsAndRefusesAPatternThatMatchesNothing() throws {
        let spec = try TestSpec.load(Self.specs.appendingPathComponent("adversarial.toml").path)
        let picked = try spec.selecting(["f1-noncongruent-*", "f1-rewrite-4k-fsdax-xfs-msync", "f4-soft-dirty"])
        #expect(picked.workloads.map(\.spec.name) == ["f1-noncongruent-4k-n2", "f1-noncongruent-2m-n2"])
        #expect(picked.persistence.map(\.spec.name) == ["f1-rewrite-4k-fsdax-xfs-msync"])
        #expect(picked.stress.map(\.spec.name) == ["f4-soft-dirty"])
        // "f1-noncongruent-4k" is how the file names it, not a case the run prints.
        let error = #expect(throws: SpecOverrideError.self) { try spec.selecting(["f4-soft-dirty", "f1-noncongruent-4k"]) }
        #expect(error?.message.hasPrefix("--only f1-noncongruent-4k: spec adversarial has no such case; it has f1-noncongruent-4k-n2, ") == true, "\(error?.message ?? "")")
    }

    /// A re-run takes only the workloads of the failed subtests.
    @Test func onlyKeepsTheNamedCasesAndFindsACaseFromItsSubtest() throws {
        let spec = TestSpec.builtIn
        let first = try #require(spec.workloads.first?.spec.name)
        #expect(spec.caseName(of: "\(first).shares") == first)
        #expect(spec.caseName(of: first) == first)
        #expect(spec.caseName(of: "nothing.shares") == nil)
        let cut = spec.only([first])
        #expect(cut.workloads.map(\.spec.name) == [first])
        #expect(cut.persistence.isEmpty)
        #expect(cut.guestMemoryMiB <= spec.guestMemoryMiB)
    }
}
