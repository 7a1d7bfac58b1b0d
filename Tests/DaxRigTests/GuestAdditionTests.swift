import Foundation
import Synchronization
import Testing
@testable import DaxRigImage
@testable import DaxRigMachine
@testable import DaxRigSupport

/// `daxrig boot --add HOST[:GUEST]`: what is refused before anything boots, and what the
/// run's extra archive holds. The boot itself is BootIntegrationTests'.
@Suite struct GuestAdditionTests {
    /// An image with a busybox, a library and the guest's home.
    func image() throws -> ImageManifest {
        try JSONCoding.decoder.decode(ImageManifest.self, from: Data("""
            {"key":"k","recipe":"r","agent":"a","agentSize":0,"fileBytes":0,"totalSize":27262976,"created":"2025-01-01T00:00:00Z","entries":[
             {"path":"/bin","kind":"dir","mode":"0755","size":0},
             {"path":"/bin/busybox","kind":"file","mode":"0755","size":1},
             {"path":"/bin/sh","kind":"symlink","mode":"0777","size":0,"target":"busybox"},
             {"path":"/lib/x86_64-linux-gnu/libc.so.6","kind":"file","mode":"0755","size":1},
             {"path":"/root","kind":"dir","mode":"0700","size":0}]}
            """.utf8))
    }

    @Test func aHostPathLandsInRootByDefaultAndWhereItIsToldOtherwise() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Files.removeDirectory(directory.path) }
        try Files.write("x", to: directory.path + "/repro")
        #expect(try GuestAddition.parse("repro", workingDirectory: directory.path) == GuestAddition(host: directory.path + "/repro", guest: "/root/repro"))
        #expect(try GuestAddition.parse(directory.path + "/repro:/opt//t/r", workingDirectory: "/") == GuestAddition(host: directory.path + "/repro", guest: "/opt/t/r"))
        #expect(try GuestAddition.parse("./repro:/bin/repro", workingDirectory: directory.path).guest == "/bin/repro")
    }

    @Test(arguments: ["missing", ":", ":/root/x", "repro:relative", "repro:/root/../init", "repro:/init", "repro:/daxrig/plan.json",
                      "repro:/mnt/pmem", "repro:/mnt/pmem/x", "repro:/mnt", "repro:/daxrig"])
    func whatCannotBeAddedIsRefusedAsBadInputNamingIt(_ argument: String) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Files.removeDirectory(directory.path) }
        try Files.write("x", to: directory.path + "/repro")
        do {
            _ = try GuestAddition.parse(argument, workingDirectory: directory.path)
            Issue.record("\(argument) was taken")
        } catch let error as GuestAdditionError {
            #expect(error.exitStatus == .badInput)
            #expect(error.description.hasPrefix("--add"), "\(error)")
        }
    }

    @Test func aDirectoryComesWithItsModesAndSymlinksAndLibrariesTheImageLacks() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Files.removeDirectory(directory.path) }
        let tree = directory.path + "/tools"
        try FileManager.default.createDirectory(atPath: tree + "/sub", withIntermediateDirectories: true)
        try Files.write("#!/bin/sh\necho hi\n", to: tree + "/run.sh")
        chmod(tree + "/run.sh", 0o750)
        try Data([0x7F, 0x45, 0x4C, 0x46, 2, 1, 1]).write(to: URL(fileURLWithPath: tree + "/sub/elf"))
        chmod(tree + "/sub/elf", 0o755)
        try FileManager.default.createSymbolicLink(atPath: tree + "/link", withDestinationPath: "sub/elf")
        let libm = directory.path + "/libm.so.6"
        try Files.write("m", to: libm)
        let asked = Mutex<[String]>([])
        let members = try GuestAddition.members([try GuestAddition.parse(tree + ":/opt/tools")], image: try image()) { binary in
            asked.withLock { $0.append(binary) }
            return [SharedLibrary(name: "libc.so.6", path: "/lib/x86_64-linux-gnu/libc.so.6"), SharedLibrary(name: "libm.so.6", path: libm)]
        }
        let byPath = Dictionary(members.map { ("/" + $0.path, $0) }, uniquingKeysWith: { (first: CpioEntry, _: CpioEntry) in first })
        #expect(byPath["/opt/tools/run.sh"] == CpioEntry.file("opt/tools/run.sh", Data("#!/bin/sh\necho hi\n".utf8), permissions: 0o750))
        #expect(byPath["/opt/tools/link"]?.kind == .symlink(target: "sub/elf"))
        #expect(byPath["/opt/tools/sub"]?.kind == .directory)
        // Only the ELF file was asked for its libraries; libc is the image's already.
        #expect(asked.withLock { $0 } == [tree + "/sub/elf"])
        #expect(byPath[libm]?.kind == .file(Data("m".utf8)))
        #expect(byPath["/lib/x86_64-linux-gnu/libc.so.6"] == nil)
    }

    @Test func replacingWhatTheImageHoldsOrAddingWhatACpioCannotCarryIsRefused() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Files.removeDirectory(directory.path) }
        try Files.write("x", to: directory.path + "/f")
        for guest in ["/bin/busybox", "/bin/sh", "/bin", "/bin/sh/x", "/bin/busybox/a/b"] {
            #expect(throws: GuestAdditionError.self) {
                try GuestAddition.members([try GuestAddition.parse(directory.path + "/f:" + guest)], image: try image()) { _ in [] }
            }
        }
        // Into a directory of the image is fine.
        #expect(try GuestAddition.members([try GuestAddition.parse(directory.path + "/f:/bin/mine")], image: try image()) { _ in [] }
            .contains { $0.path == "bin/mine" })
        #expect(mkfifo(directory.path + "/fifo", 0o600) == 0)
        #expect(throws: GuestAdditionError.unsupported(option: "--add", host: directory.path + "/fifo", kind: "a FIFO")) {
            try GuestAddition.members([try GuestAddition.parse(directory.path + "/fifo")], image: try image()) { _ in [] }
        }
    }

    @Test func additionsTheGuestCannotUnpackAreRefusedBeforeItBoots() throws {
        try BootLimits.check(additionBytes: 190 << 20, memoryMiB: 512)
        #expect(throws: BootLimitError.self) { try BootLimits.check(additionBytes: 200 << 20, memoryMiB: 512) }
        #expect(throws: BootLimitError.self) { try BootLimits.check(additionBytes: 1, memoryMiB: 128) }
        try BootLimits.check(additionBytes: 1 << 30, memoryMiB: 4096)
    }
}
