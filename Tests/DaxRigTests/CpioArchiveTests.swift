import DaxRigProtocol
import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigImage
@testable import DaxRigSupport

/// The cpio writer, checked against the real GNU cpio: what it lists and what it
/// extracts must be exactly what went in.
@Suite struct CpioArchiveTests {
    static let script = Data("#!/bin/sh\necho hello\n".utf8)
    static let odd = Data((0..<1001).map { UInt8($0 % 251) })  // not a multiple of 4: padding

    static let entries: [CpioEntry] = [
        .directory("/etc"),
        .directory("/tmp", permissions: 0o1777),
        .file("/bin/hello", script, permissions: 0o755),
        .file("/etc/data.bin", odd, permissions: 0o640),
        .file("/etc/empty", Data(), permissions: 0o600),
        .symlink("/bin/sh", to: "hello"),
        .symlink("/etc/mtab", to: "/proc/self/mounts"),
        .characterDevice("/dev/console", major: 5, minor: 1, permissions: 0o600),
    ]

    func write(_ data: Data, in directory: URL, name: String = "test.cpio") throws -> String {
        let path = directory.appendingPathComponent(name).path
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func listedByCpioWithParentsAndNoLeadingSlash() throws {
        let dir = try Files.temporaryDirectory(in: FileManager.default.temporaryDirectory, prefix: "cpio-")
        defer { Files.remove(dir.path) }
        let path = try write(try CpioArchive(Self.entries).bytes(), in: dir)
        let listing = try Command("cpio", ["-t", "--quiet", "-F", path]).run().standardOutput
            .split(separator: "\n").map(String.init)
        #expect(listing == ["bin", "bin/hello", "bin/sh", "dev", "dev/console", "etc", "etc/data.bin",
                            "etc/empty", "etc/mtab", "tmp"])
    }

    @Test func extractsToIdenticalFilesLinksModesAndDevices() throws {
        let dir = try Files.temporaryDirectory(in: FileManager.default.temporaryDirectory, prefix: "cpio-")
        defer { Files.remove(dir.path) }
        let path = try write(try CpioArchive(Self.entries).bytes(), in: dir)
        let root = dir.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Command("cpio", ["-idm", "--quiet", "-F", path], directory: root.path).run()

        func at(_ path: String) -> String { root.path + path }
        #expect(FileManager.default.contents(atPath: at("/bin/hello")) == Self.script)
        #expect(FileManager.default.contents(atPath: at("/etc/data.bin")) == Self.odd)
        #expect(FileManager.default.contents(atPath: at("/etc/empty")) == Data())
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: at("/bin/sh")) == "hello")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: at("/etc/mtab")) == "/proc/self/mounts")

        func mode(_ path: String) -> mode_t {
            var info = stat()
            return lstat(at(path), &info) == 0 ? info.st_mode : 0
        }
        #expect(mode("/bin/hello") == S_IFREG | 0o755)
        #expect(mode("/etc/data.bin") == S_IFREG | 0o640)
        #expect(mode("/etc/empty") == S_IFREG | 0o600)
        #expect(mode("/tmp") == S_IFDIR | 0o1777)
        #expect(mode("/bin") == S_IFDIR | 0o755)  // added as a parent
        if getuid() == 0 {  // only root may mknod
            var info = stat()
            #expect(lstat(at("/dev/console"), &info) == 0)
            #expect(info.st_mode == S_IFCHR | 0o600)
            #expect(info.st_rdev == (5 << 8 | 1))
        }
    }

    @Test func sameInputsInAnyOrderGiveTheSameBytes() throws {
        let forward = try CpioArchive(Self.entries).bytes()
        let backward = try CpioArchive(Self.entries.reversed()).bytes()
        #expect(forward == backward)
        #expect(try CpioArchive(Self.entries).bytes() == forward)
        #expect(forward.count % 512 == 0)
        #expect(forward.prefix(6) == Data("070701".utf8))
        #expect(forward.range(of: Data("TRAILER!!!".utf8)) != nil)
    }

    @Test func sameMemberTwiceIsFineButADifferentOneIsAConflict() throws {
        var archive = CpioArchive()
        try archive.add(.file("/lib/libc.so.6", Self.script))
        try archive.add(.file("lib/libc.so.6", Self.script))  // a library two tools share
        #expect(throws: CpioError.self) { try archive.add(.file("/lib/libc.so.6", Self.odd)) }
        #expect(throws: CpioError.badPath("/bin/../etc")) { try archive.add(.directory("/bin/../etc")) }
        #expect(throws: CpioError.badPath("/")) { try archive.add(.directory("/")) }
        // A member under something that is not a directory.
        let broken = try CpioArchive([.symlink("/lib64", to: "usr/lib64"), .file("/lib64/ld.so", Self.script)])
        #expect(throws: CpioError.self) { try broken.bytes() }
    }

    /// The run initrd: the cached image itself when the user adds nothing (every boot
    /// shares it, another host holds it once); with additions, the image's bytes and
    /// then their archive, each a complete archive that cpio lists on its own.
    @Test func runInitrdIsTheImageItselfOrTheImageThenTheAdditions() throws {
        let dir = try Files.temporaryDirectory(in: FileManager.default.temporaryDirectory, prefix: "cpio-")
        defer { Files.remove(dir.path) }
        let image = try CpioArchive(Self.entries).bytes()
        let imageDir = try Files.temporaryDirectory(in: dir, prefix: "image-")
        try image.write(to: imageDir.appendingPathComponent("initramfs.cpio"))
        let guest = try Fixtures.guestImage(in: imageDir)
        let runPath = dir.appendingPathComponent("run/initrd.cpio").path

        #expect(try ImageBuilder.runInitrd(image: guest, additions: Data(), at: runPath) == guest.initramfs)
        #expect(!Files.exists(runPath), "nothing written for a boot that adds nothing")

        let additions = try CpioArchive([.directory("/root"), .file("/root/repro.sh", Self.script, permissions: 0o755)]).bytes()
        #expect(try ImageBuilder.runInitrd(image: guest, additions: additions, at: runPath) == runPath)
        let written = try #require(FileManager.default.contents(atPath: runPath))
        #expect(written == image + additions)
        let tail = try write(written.dropFirst(image.count), in: dir, name: "additions.cpio")
        #expect(try Command("cpio", ["-t", "--quiet", "-F", tail]).run().standardOutput == "root\nroot/repro.sh\n")
    }

    /// The plan travels as the host's first channel line, with a seed new for each boot:
    /// it decodes to the same plan, and two boots never share the bytes their CRNGs start from.
    @Test func thePlanMessageRoundTripsWithAFreshSeedEachTime() throws {
        let plan = GuestPlan(pmem: PmemSetup(fileSystem: .ext4, reuse: true), command: ["/bin/sh", "-c", "echo 'a\nb'"], environment: ["A": "1"])
        let lines = try (1...2).map { _ in try HostMessage.plan(plan).encodedLine() }
        var seeds: [Data] = []
        for line in lines {
            #expect(line.last == UInt8(ascii: "\n") && line.dropLast().firstIndex(of: UInt8(ascii: "\n")) == nil, "one line")
            guard case let .plan(decoded, seed) = try HostMessage.decode(line: line.dropLast()) else {
                Issue.record("not a plan")
                continue
            }
            #expect(decoded == plan)
            #expect(seed.count == GuestPlan.entropySeedBytes)
            seeds.append(seed)
        }
        #expect(seeds.count == 2 && seeds[0] != seeds[1])
    }
}
