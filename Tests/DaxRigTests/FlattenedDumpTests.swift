import Foundation
import Testing
@testable import DaxRigMachine
@testable import DaxRigSupport

/// QEMU's flattened kdump stream, put back together (BootEngine's --dump-on-crash).
/// makedumpfile -R, which does the same, is the oracle where it is installed.
@Suite struct FlattenedDumpTests {
    static func bigEndian(_ value: Int64) -> Data { FlattenedDump.bigEndianBytes(value) }

    /// A flattened stream of `records` (offset, bytes), in the order given.
    static func flattened(_ records: [(Int64, Data)], end: Bool = true, type: Int64 = 1) -> Data {
        var data = FlattenedDump.signature + bigEndian(type) + bigEndian(1)
        data += Data(count: FlattenedDump.headerBytes - data.count)
        for (offset, bytes) in records { data += bigEndian(offset) + bigEndian(Int64(bytes.count)) + bytes }
        if end { data += bigEndian(-1) + bigEndian(-1) }
        return data
    }

    @Test func recordsLandAtTheirOffsetsAsMakedumpfileWouldPutThem() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Files.removeDirectory(directory.path) }
        var generator = SystemRandomNumberGenerator()
        let records: [(Int64, Data)] = [(8192, Data("tail".utf8)), (0, Data("KDUMP   head".utf8)),
                                         (100, Data((0..<5000).map { _ in UInt8.random(in: 0...255, using: &generator) })),
                                         (4, Data("over".utf8))]
        let flat = directory.appendingPathComponent("flat").path
        try Self.flattened(records).write(to: URL(fileURLWithPath: flat))
        #expect(FlattenedDump.isFlattened(flat))
        let mine = directory.appendingPathComponent("mine").path
        try FlattenedDump.reassemble(flat, to: mine)
        var expected = Data(count: 8196)
        for (offset, bytes) in records { expected.replaceSubrange(Int(offset)..<Int(offset) + bytes.count, with: bytes) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: mine)) == expected)
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/makedumpfile") {
            let theirs = directory.appendingPathComponent("theirs").path
            _ = try Command("sh", ["-c", "makedumpfile -R \(theirs) < \(flat)"]).run()
            #expect(try Data(contentsOf: URL(fileURLWithPath: theirs)) == expected)
        }
    }

    @Test func aStreamThatIsNotFlattenedOrEndsInARecordIsRefused() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Files.removeDirectory(directory.path) }
        let path = directory.appendingPathComponent("in").path
        let out = directory.appendingPathComponent("out").path
        let good = Self.flattened([(0, Data("abcd".utf8))])
        for (bytes, said) in [(Data("KDUMP   ".utf8), "not a flattened dump"),
                              (good.prefix(good.count - 20), "ends inside a record"),
                              (Self.flattened([(0, Data("abcd".utf8))], end: false), "ends inside a record"),
                              (Self.flattened([(-5, Data("abcd".utf8))]), "has a record at offset -5"),
                              (Self.flattened([(-1, Data("abcd".utf8))]), "has a record at offset -1 of 4 bytes"),
                              (Self.flattened([(0, Data("abcd".utf8))], type: 2), "not a flattened dump"),
                              (Self.flattened([]).dropLast(16) + Self.bigEndian(0) + Self.bigEndian(1 << 40), "of 1099511627776 bytes")] {
            try bytes.write(to: URL(fileURLWithPath: path))
            #expect { try FlattenedDump.reassemble(path, to: out) } throws: { "\($0)".contains(said) }
        }
    }

    /// What is kept as `vmcore` is a kdump-compressed dump or nothing: a stream with no
    /// records (or one whose first record is not the kdump header) leaves no file.
    @Test func onlyAKdumpCompressedDumpIsKeptAsTheVmcore() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Files.removeDirectory(directory.path) }
        let written = directory.appendingPathComponent("written").path
        let vmcore = directory.appendingPathComponent("vmcore").path
        for stream in [Self.flattened([]), Self.flattened([(0, Data("ELF-not-kdump".utf8))]), Data("garbage".utf8)] {
            try stream.write(to: URL(fileURLWithPath: written))
            #expect(throws: FlattenedDump.Failure.self) { try FlattenedDump.keep(written, as: vmcore) }
            #expect(!Files.exists(vmcore))
            Files.remove(written)
        }
        try Self.flattened([(0, Data("KDUMP   rest".utf8))]).write(to: URL(fileURLWithPath: written))
        try FlattenedDump.keep(written, as: vmcore)
        #expect(try Data(contentsOf: URL(fileURLWithPath: vmcore)) == Data("KDUMP   rest".utf8))
        #expect(!Files.exists(written))
    }
}
