import DaxRigProtocol
import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigMachine
@testable import DaxRigSupport

/// The scanner sees every byte the guest printed (issue 14, item 1: a WARNING followed
/// by more than 2 MiB of console output was missed, because virtlogd had rolled it into
/// console.log.0 and only console.log was read).
@Suite struct ConsoleLogTests {
    static let banner = "[    0.000000] Linux version 6.1.192 (daxrig@daxrig)\n"
    static let warning = "[    2.000000] WARNING: CPU: 0 PID: 1 at drivers/misc/lkdtm/bugs.c:88 lkdtm_WARNING+0x1/0x2\n"

    func console(_ parts: [(suffix: String, bytes: Data)]) throws -> (URL, String) {
        let directory = try Fixtures.temporaryDirectory()
        let path = directory.appendingPathComponent("console.log").path
        for part in parts { try part.bytes.write(to: URL(fileURLWithPath: path + part.suffix)) }
        return (directory, path)
    }

    @Test func settingsAreReadAsVirtlogdReadsThem() {
        #expect(VirtlogdSettings(conf: "") == .defaults)
        #expect(VirtlogdSettings(conf: "#max_size = 0\nmax_backups = 5 # more\n") == VirtlogdSettings(maxSize: 2_097_152, maxBackups: 5))
        #expect(VirtlogdSettings(conf: "  max_size=0\nmax_backups = lots\n") == VirtlogdSettings(maxSize: 0, maxBackups: 3))
    }

    @Test func aWarningInARolledOverPartIsFoundAndTheLinesRunOldestFirst() throws {
        let (directory, path) = try console([(".1", Data((Self.banner + "[    1.0] one\n").utf8)),
                                             (".0", Data(Self.warning.utf8)),
                                             ("", Data("[    3.0] flood\n".utf8))])
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = ConsoleLog.read(path, settings: .defaults)
        #expect(log.parts == [path + ".1", path + ".0", path])
        #expect(!log.lostBeginning)
        #expect(log.lossFinding == nil)
        let findings = ConsoleScanner.scan(log.text)
        #expect(findings.map(\.kind) == [.warning])
        #expect(findings.first?.line == 3)
        // Read as the old code did, the newest part alone: nothing.
        #expect(ConsoleScanner.scan(try Files.read(path)).isEmpty)
    }

    @Test func aBeginningThatRolledAwayIsAFindingAgainstEveryCase() throws {
        let marked = "[   9.0] \(CaseMarker.beginning("f1-noncongruent-4k-n2"))\n[   9.1] flood 100\n"
        let (directory, path) = try console([(".2", Data("[   8.0] flood 99\n".utf8)), (".1", Data()), (".0", Data(marked.utf8)), ("", Data())])
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = ConsoleLog.read(path, settings: .defaults)
        #expect(log.lostBeginning)
        let finding = try #require(log.lossFinding)
        #expect(finding.kind == .consoleLost && !finding.kind.isCrash)
        #expect(finding.excerpt.contains("max_size = 0"))
        let sections = ConsoleSections(log: log.text)
        #expect(sections.cases["f1-noncongruent-4k-n2"] != nil)
        #expect(sections.findings([finding], for: "f1-noncongruent-4k-n2") == [finding])
        // Kept parts that start with the banner lost nothing; rotation off never loses.
        let (whole, wholePath) = try console([(".2", Data(Self.banner.utf8)), ("", Data())])
        defer { try? FileManager.default.removeItem(at: whole) }
        #expect(!ConsoleLog.read(wholePath, settings: .defaults).lostBeginning)
        #expect(!ConsoleLog.read(path, settings: VirtlogdSettings(maxSize: 0, maxBackups: 3)).lostBeginning)
    }

    @Test func aByteThatIsNotUTF8DoesNotBlankTheLog() throws {
        // A guest can write any byte to its serial port. Read as UTF-8 strictly, the
        // whole log failed to decode and was scanned as empty: a clean log.
        var bytes = Data(Self.banner.utf8)
        bytes.append(contentsOf: [0xff, 0xfe, 0x0a])
        bytes.append(Data(Self.warning.utf8))
        let (directory, path) = try console([("", bytes)])
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect((try? Files.read(path)) == nil)
        #expect(ConsoleScanner.scan(ConsoleLog.read(path, settings: .defaults).text).map(\.kind) == [.warning])
    }

    @Test func joiningKeepsTheBytesAsPrinted() throws {
        let odd = Data([0x5b, 0xff, 0x5d, 0x0a])
        let (directory, path) = try console([(".0", Data(Self.banner.utf8) + odd), ("", Data(Self.warning.utf8))])
        defer { try? FileManager.default.removeItem(at: directory) }
        try ConsoleLog.read(path, settings: .defaults).join(into: path)
        #expect(FileManager.default.contents(atPath: path) == Data(Self.banner.utf8) + odd + Data(Self.warning.utf8))
        #expect(!Files.exists(path + ".0"))
        #expect(ConsoleLog.read(path, settings: .defaults).parts == [path])
    }
}
