import DaxRigProtocol
import Foundation
import Testing
@testable import DaxRigMachine
@testable import DaxRigRun
@testable import DaxRigSupport

/// Issue 18: a boot takes its pmem formatted from a template instead of running ndctl
/// and mkfs. The copy must stay sparse and exact, and a template must only ever serve a
/// boot of the same kernel, image, file system and nvdimm shape.
@Suite struct PmemTemplateTests {
    /// A 64 MiB file that holds 1 MiB + 4 KiB of data, a written MiB of zeros and a
    /// last byte, copied: the same bytes, and no more blocks than the data needs.
    @Test func aSparseCopyIsExactAndHoldsOnlyTheData() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let source = root.appendingPathComponent("source").path, copy = root.appendingPathComponent("copy").path
        let handle = try #require(FileHandle(forWritingAtPath: { FileManager.default.createFile(atPath: source, contents: nil); return source }()))
        func write(_ data: Data, at offset: UInt64) throws {
            try handle.seek(toOffset: offset)
            try handle.write(contentsOf: data)
        }
        try write(Data(repeating: 0xA5, count: 4096), at: 0)
        try write(Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }), at: 10 << 20)
        try write(Data(count: 1 << 20), at: 20 << 20)           // allocated, all zeros
        try write(Data([0x5A]), at: (64 << 20) - 1)
        try handle.close()

        try Files.copySparse(from: source, to: copy)
        #expect(Files.size(copy) == 64 << 20)
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == Data(contentsOf: URL(fileURLWithPath: source)))
        let held = CacheCollector.allocatedBytes(copy)
        #expect(held >= (1 << 20) + 4096 && held <= (1 << 20) + 3 * 4096 + 65536, "\(held) bytes allocated")
        #expect(CacheCollector.allocatedBytes(source) >= 2 << 20)
    }

    @Test func anEmptyOrAllHoleFileCopiesToItsLength() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        for length: UInt64 in [0, 1 << 30] {
            let source = root.appendingPathComponent("hole-\(length)").path, copy = source + ".copy"
            try PmemBackingFile.create(path: source, size: length)
            try Files.copySparse(from: source, to: copy)
            #expect(Files.size(copy) == length)
            #expect(CacheCollector.allocatedBytes(copy) == 0)
        }
        #expect(throws: FileError.self) { try Files.copySparse(from: root.appendingPathComponent("absent").path, to: root.appendingPathComponent("x").path) }
    }

    /// The key moves with everything that shapes the formatted bytes, and a boot that
    /// must format for itself (no file system, its own backing files, a second boot of a
    /// persistence check, a terminal) gets none.
    @Test func theKeyFollowsKernelImageFileSystemAndShapeAndSomeBootsGetNone() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let kernel = root.appendingPathComponent("bzImage").path
        try Files.write("kernel one", to: kernel)
        let image = try Fixtures.guestImage(in: root)
        func key(_ change: (inout BootRequest) -> Void = { _ in }, size: UInt64 = 2 << 30) -> String? {
            var request = BootRequest(kernel: kernel, plan: GuestPlan(command: ["true"]))
            change(&request)
            return PmemTemplates.key(for: request, image: image, nvdimm: NvdimmSpec(backingFile: "", sizeBytes: size))
        }
        let base = try #require(key())
        #expect(key() == base)
        #expect(key(size: 3 << 30) != base)
        #expect(key { $0.plan.pmem.fileSystem = .ext4 } != base)
        #expect(key { $0.plan.pmem.fileSystem = .none } == nil)
        #expect(key { $0.pmemTemplate = false } == nil)
        #expect(key { $0.plan.pmem.reuse = true } == nil)
        #expect(key { $0.pmemBackingFiles = ["/x"] } == nil)
        #expect(key { $0.plan.terminal = TerminalSpec(rows: 24, columns: 80, term: "xterm") } == nil)
        #expect(key { $0.kernel = root.appendingPathComponent("absent").path } == nil)
        try Files.write("kernel two", to: kernel)
        #expect(key() != base)
    }

    /// Kept by rename from a staging directory (nothing half-written under the final
    /// name), placed back byte for byte, touched on use, and a dead daxrig's staging
    /// directory is swept.
    @Test func aKeptTemplateIsPlacedBackWholeAndItsStagingNeverLingers() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let templates = PmemTemplates(cache: Cache(root: root))
        let backing = root.appendingPathComponent("pmem0.img").path
        try PmemBackingFile.create(path: backing, size: 8 << 20)
        let handle = try #require(FileHandle(forWritingAtPath: backing))
        try handle.seek(toOffset: 4 << 20)
        try handle.write(contentsOf: Data("XFSB formatted".utf8))
        try handle.close()

        let placed = root.appendingPathComponent("next.img").path
        #expect(!templates.place("k1", at: placed))
        try templates.keep("k1", from: backing)
        #expect(try FileManager.default.contentsOfDirectory(atPath: templates.directory.path) == ["k1.img"])
        try FileManager.default.setAttributes([.modificationDate: Date.distantPast], ofItemAtPath: templates.path("k1"))
        #expect(templates.place("k1", at: placed))
        #expect(try Data(contentsOf: URL(fileURLWithPath: placed)) == Data(contentsOf: URL(fileURLWithPath: backing)))
        let used = try #require(try FileManager.default.attributesOfItem(atPath: templates.path("k1"))[.modificationDate] as? Date)
        #expect(used > Date().addingTimeInterval(-60))
        #expect(CacheCollector(cache: Cache(root: root)).items().map(\.kind) == [.pmemTemplate])
        templates.discard("k1")
        #expect(!templates.place("k1", at: placed))

        let dead = templates.directory.appendingPathComponent(".staging-999003-ABCD0000")
        try FileManager.default.createDirectory(at: dead, withIntermediateDirectories: true)
        #expect(Leftovers.sweep(Cache(root: root)) { _ in false } == [dead.path])
    }
}
