import DaxRig
import DaxRigProtocol
import Foundation
import Testing
import DaxRigMachine
import DaxRigRun

/// Mapping geometry (issue 12): per-process file offsets, address shifts and several
/// mappings, from the spec to the accounting, and the pattern that names where a
/// wrong word came from.
@Suite struct GeometryTests {
    let specs = TestSpecTests()

    @Test func offsetsShiftsAndMappingsParseAndCycleByWorker() throws {
        let spec = try specs.parse("""
            [[workload]]
            name = "g"
            backing = "fsdax-xfs"
            processes = 3
            size = "1G"
            offsets = [0, "4K", 8192]
            shifts = ["2M"]
            mappings = 2
            """)
        let geometry = spec.workloads[0].spec.geometry
        #expect(geometry == MappingGeometry(fileOffsets: [0, 4096, 8192], addressShifts: [2 << 20], mappings: 2))
        #expect((0..<4).map(geometry.fileOffset(of:)) == [0, 4096, 8192, 0])
        let workload = spec.workloads[0].spec
        #expect(workload.fileBytes == (1 << 30) + 8192)
        // Two mappings a whole empty GiB apart, both shifted by 2 MiB from 1 TiB.
        let tebibyte: UInt64 = 1 << 40, shift: UInt64 = 2 << 20, stride: UInt64 = 3 << 30
        #expect(workload.addresses(of: 1) == [tebibyte + shift, tebibyte + shift + stride])
        #expect(geometry.commonFileRange(processes: 3, length: 1 << 30) == 8192..<(1 << 30))
        #expect(geometry.commonFileRange(processes: 1, length: 1 << 30) == 0..<(1 << 30))
    }

    /// Lengths and modes cycle by worker like offsets: the common range is what every
    /// worker maps, cut among the read-write workers only, and the file is as long as
    /// the longest mapping past the largest offset.
    @Test func lengthsAndModesCycleByWorkerAndOnlyWritersGetStripes() throws {
        let spec = try specs.parse("""
            [[workload]]
            name = "l"
            backing = "fsdax-xfs"
            processes = 3
            size = "1G"
            offsets = [0, "4K"]
            lengths = ["2G", "1G"]
            modes = ["rw", "rw", "ro"]
            """)
        let workload = spec.workloads[0].spec
        let geometry = workload.geometry
        #expect((0..<3).map { workload.mappingBytes(of: $0) } == [2 << 30, 1 << 30, 2 << 30])
        #expect((0..<3).map(geometry.isReadOnly) == [false, false, true])
        #expect(geometry.writers(processes: 3) == [0, 1])
        #expect(workload.fileBytes == (2 << 30) + 4096)
        // Worker 1 maps [4K, 1G + 4K): the others map more, so that is the common range.
        #expect(geometry.commonFileRange(processes: 3, length: 1 << 30) == 4096..<((1 << 30) + 4096))
        // Worker 0 maps 2 GiB at 1 TiB: two PMD tables; worker 1 one; the stride leaves room for 2 GiB.
        let workers = (0..<3).map { _ in
            WorkloadReport.Worker(vmPTEBefore: 0, vmPTEAfter: 0, faults: 0, faultNanoseconds: 0, mismatches: 0, mapErrno: 0, exitStatus: 0)
        }
        let report = WorkloadReport(spec: workload, preFork: 0, control: 0, mapped: 0, final: 0, workers: workers, patternWords: 0, seconds: 0, notes: [])
        #expect(report.accounting.expectedUnsharedPMDPages == 2 + 1 + 2)
        let again = try JSONDecoder().decode(WorkloadSpec.self, from: JSONEncoder().encode(workload))
        #expect(again == workload)
        let old = #"{"fileOffsets":[0],"addressShifts":[0],"mappings":1}"#
        #expect(try JSONDecoder().decode(MappingGeometry.self, from: Data(old.utf8)) == .uniform)
    }

    @Test func aSpecWithoutGeometryIsUniformAndDecodesFromOldReports() throws {
        let spec = try specs.parse("[[workload]]\nbacking = \"fsdax-xfs\"\n")
        #expect(spec.workloads[0].spec.geometry.isUniform)
        // A report stored before geometry existed has no "geometry" key.
        let old = #"{"name":"x","backing":"fsdax-xfs","processes":2,"mappingBytes":1073741824,"pudAligned":true,"access":"write-per-2m","mapSync":false}"#
        let decoded = try JSONDecoder().decode(WorkloadSpec.self, from: Data(old.utf8))
        #expect(decoded == WorkloadSpec(name: "x", backing: .fsdaxXfs, processes: 2, mappingBytes: 1 << 30))
        let encoded = try JSONEncoder().encode(spec.workloads[0].spec)
        let again = try JSONDecoder().decode(WorkloadSpec.self, from: encoded)
        #expect(again == spec.workloads[0].spec)
    }

    @Test(arguments: [
        ("offsets = [0, 100]", "offsets", "not a whole number of 4 KiB pages"),
        ("shifts = [\"1G\"]", "shifts", "past 1 GiB"),
        ("mappings = 0", "mappings", "use 1 to 16"),
        ("mappings = 17", "mappings", "use 1 to 16"),
        ("offsets = [\"1G\"]", "offsets", "leaves no file range"),
        ("offsets = [true]", "offsets", "must be a size"),
        ("size = \"64G\"\nmappings = 16", "mappings", "do not fit in one 512 GiB slot"),
        ("lengths = [\"1G\", 100]", "lengths", "not a whole, non-zero number of 4 KiB pages"),
        ("lengths = [0]", "lengths", "not a whole, non-zero number"),
        ("offsets = [0, \"512M\"]\nlengths = [\"256M\", \"1G\"]", "offsets", "leaves no file range every process maps"),
        ("modes = [\"ro\"]", "modes", "leaves nobody to write"),
        ("processes = [1, 2]\nmodes = [\"ro\", \"rw\"]", "modes", "with 1 processes every one is read-only"),
        ("modes = [\"rw\", \"wo\"]", "modes", "'wo' is not one of rw, ro"),
    ])
    func badGeometryNamesItsKey(line: String, key: String, message: String) throws {
        let error = try #require(specs.failure("[[workload]]\nbacking = \"fsdax-xfs\"\n" + line + "\n"))
        #expect(error.key == key, "\(error)")
        #expect(error.message.contains(message), "\(error)")
        #expect(error.line != nil)
    }

    @Test func hugetlbfsNeedsWholeHugePages() throws {
        let error = try #require(specs.failure("[[workload]]\nbacking = \"hugetlbfs\"\noffsets = [0, \"4K\"]\n"))
        #expect(error.key == "offsets" && error.message.contains("2 MiB"))
        _ = try specs.parse("[[workload]]\nbacking = \"hugetlbfs\"\noffsets = [0, \"2M\"]\n")
    }

    @Test func accountingCountsEachWorkersOwnTables() {
        // Worker 0 maps one GiB aligned (1 PMD table), worker 1 shifted by 2 MiB (2 PMD
        // tables), each in the same 512 GiB slot (1 PUD table each).
        let spec = WorkloadSpec(name: "a", backing: .fsdaxXfs, processes: 2, mappingBytes: 1 << 30,
                                geometry: MappingGeometry(addressShifts: [0, 2 << 20]))
        let tables = (0..<2).map { PmdAccounting.tables(addresses: spec.addresses(of: $0), length: spec.mappingBytes) }
        #expect(tables == [.init(pmd: 1, pud: 1), .init(pmd: 2, pud: 1)])
        let workers = [2, 3 + 5].map { pages in
            WorkloadReport.Worker(vmPTEBefore: 0, vmPTEAfter: UInt64(pages) * 4096, faults: 512, faultNanoseconds: 1, mismatches: 0, mapErrno: 0, exitStatus: 0)
        }
        let report = WorkloadReport(spec: spec, preFork: 0, control: 0, mapped: 8 * 4096, final: 0, workers: workers, patternWords: 0, seconds: 1, notes: [])
        let a = report.accounting
        #expect(a.expectedUnsharedPMDPages == 3)
        #expect(a.fallbackPages == [0, 5])
        #expect(a.measuredPMDPages == 3)
        // Two mappings of one GiB each: two PMD tables, one PUD table.
        let twice: [UInt64] = [1 << 40, (1 << 40) + (2 << 30)]
        #expect(PmdAccounting.tables(addresses: twice, length: 1 << 30) == .init(pmd: 2, pud: 1))
    }

    @Test func aWrongWordNamesTheOffsetItCameFrom() {
        let seed = Pattern.seed("f1-noncongruent-4k-n2")
        for offset: UInt64 in [0, 8, 4096, (1 << 30) - 8, 123 * 4096] {
            #expect(Pattern.offset(of: Pattern.word(offset: offset, seed: seed), seed: seed, below: 1 << 31) == offset)
        }
        #expect(Pattern.offset(of: 0, seed: seed, below: 1 << 31) == nil)
        #expect(Pattern.offset(of: Pattern.word(offset: 4096, seed: seed ^ 1), seed: seed, below: 1 << 31) == nil)
        let mismatch = WordMismatch(mapping: 0, fileOffset: 8192, found: Pattern.word(offset: 4096, seed: seed),
                                    foundOffset: Pattern.offset(of: Pattern.word(offset: 4096, seed: seed), seed: seed, below: 1 << 31))
        #expect(mismatch.description == "mapping 0 at file offset 8192 read the word of file offset 4096 (-4096 bytes off)")
        #expect(WordMismatch(mapping: 1, fileOffset: 0, found: 0, foundOffset: nil).description == "mapping 1 at file offset 0 read zeros")
    }

    @Test func theAdversarialSpecNamesEachFinding() throws {
        let spec = try TestSpec.load(TestSpecTests.specs.appendingPathComponent("adversarial.toml").path)
        #expect(spec.workloads.map(\.spec.name) == ["f1-noncongruent-4k-n2", "f1-noncongruent-2m-n2", "f1-congruent-shifted-n2", "f3-two-mappings-n2",
                                                    "lengths-n3", "ro-rw-n3"])
        #expect(spec.workloads[0].spec.geometry.fileOffsets == [0, 4096])
        #expect(spec.workloads[3].spec.geometry.mappings == 2)
        #expect(spec.stress.map(\.spec.name) == ["f1-stress-4k", "f2-split-punch", "tlb-punch", "tlb-truncate", "two-mappings-punch", "f4-soft-dirty",
                                                 "f5-madv-cold"])
        #expect(spec.stress.dropFirst().map(\.spec.ops) == [[.tlbSplitPunch], [.tlbPunch], [.tlbTruncate], [.tlbTwoMappings], [.softDirty], [.madvCold]])
        #expect(spec.stress[0].spec.geometry.fileOffsets == [0, 4096])
        #expect(spec.persistence.map(\.spec.name) == ["f1-rewrite-4k-fsdax-xfs-msync"])
        #expect(spec.stress.dropFirst().prefix(2).allSatisfy { $0.spec.sharers == 0 })
        #expect(spec.workloads.allSatisfy { $0.expectations.contains(.dataIntact) })
    }
}
