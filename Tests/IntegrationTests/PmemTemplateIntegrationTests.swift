import DaxRig
import DaxRigImage
import DaxRigMachine
import DaxRigProtocol
import DaxRigRun
import DaxRigSupport
import Foundation
import Testing

/// Issue 18: the first boot of a kernel formats its pmem (ndctl, mkfs) and keeps it as
/// a template; the next boots of that kernel on an nvdimm of that shape start from a
/// copy and skip both. What could make the claim false, tried for real: a boot's writes
/// reaching the next boot through the template, a template that is not fsdax or not a
/// file system any more, one whose file system is broken behind an intact magic, and a
/// boot that asks for a fresh pmem.
@Suite(.serialized, .timed) struct PmemTemplateIntegrationTests {
    /// A size no other test boots, so this test's template is its own.
    static let size: UInt64 = (2 << 30) + (64 << 20)  // ndctl wants 16 MiB multiples

    struct Boot {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func boot(_ script: String, _ extra: [String] = []) throws -> Boot {
        let (process, out, err) = try Rig.start(["boot", "--pmem", "\(Self.size >> 20)M"] + extra + ["--", "sh", "-c", script])
        let (stdout, stderr) = Rig.finish(process, out, err)
        return Boot(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    func templateKey() throws -> String {
        let kernel = try Rig.defaultKernel()
        let image = try ImageBuilder(cache: Rig.cache).build()
        let request = BootRequest(kernel: kernel.bzImage, plan: GuestPlan(command: ["true"]), pmemSizes: [Self.size])
        return try #require(PmemTemplates.key(for: request, image: image, nvdimm: NvdimmSpec(backingFile: "", sizeBytes: Self.size)))
    }

    @Test func theSecondBootMountsAFreshCopyOfWhatTheFirstFormattedAndABrokenTemplateIsNeverTrusted() throws {
        let templates = PmemTemplates(cache: Rig.cache)
        let key = try templateKey()
        templates.discard(key)
        let marker = "echo written > /mnt/pmem/written-by-a-boot; sync"
        let look = "grep ' /mnt/pmem ' /proc/mounts; ls -A /mnt/pmem | tr '\\n' ' '; echo"

        // The first boot formats and keeps; what it writes after is its own.
        let first = try boot("\(marker); \(look)")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("[mkfs]") && first.stderr.contains("[template] kept the formatted pmem"), "\(first.stderr)")
        #expect(Files.exists(templates.path(key)))

        // The second takes the template: no ndctl, no mkfs, DAX, and none of the first's file.
        let second = try boot(look)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("[template] pmem from") && second.stderr.contains("xfs found: keeping it"), "\(second.stderr)")
        #expect(!second.stderr.contains("[mkfs]") && !second.stderr.contains("[namespace]"), "\(second.stderr)")
        #expect(second.stdout.contains("dax") && !second.stdout.contains("written-by-a-boot"), "\(second.stdout)")

        // --fresh-pmem formats in the guest again and leaves the template as it was.
        let before = try Data(contentsOf: URL(fileURLWithPath: templates.path(key)))
        let fresh = try boot(look, ["--fresh-pmem"])
        #expect(fresh.status == 0 && fresh.stderr.contains("[mkfs]") && !fresh.stderr.contains("[template]"), "\(fresh.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: templates.path(key))) == before)

        // A template that holds nothing (not fsdax, no file system): the agent formats,
        // the boot passes, and what it formatted is the template again.
        try PmemBackingFile.create(path: templates.path(key), size: Self.size)
        let blank = try boot(look)
        #expect(blank.status == 0, "\(blank.stderr)")
        #expect(blank.stderr.contains("not fsdax: converting and formatting") && blank.stderr.contains("[template] kept"), "\(blank.stderr)")
        #expect(CacheCollector.allocatedBytes(templates.path(key)) > 0)

        // A file system broken behind its magic: the mount fails at the pmem stage, the
        // message says the pmem was a template, and the template is gone.
        try breakSuperblock(templates.path(key))
        let broken = try boot(look)
        #expect(broken.status == 112, "\(broken.status): \(broken.stderr)")
        #expect(broken.stderr.contains("it is removed, and the next boot formats anew"), "\(broken.stderr)")
        #expect(!Files.exists(templates.path(key)))
        let again = try boot(look)
        #expect(again.status == 0 && again.stderr.contains("[mkfs]"), "\(again.stderr)")
        templates.discard(key)
    }

    /// Keeps xfs's magic ("XFSB") and zeroes the rest of its primary superblock: the
    /// agent's magic check passes and the kernel refuses the mount.
    func breakSuperblock(_ path: String) throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        var offset: UInt64 = 0
        while offset < 256 << 20 {
            try handle.seek(toOffset: offset)
            if try handle.read(upToCount: 4) == Data("XFSB".utf8) {
                try handle.seek(toOffset: offset + 4)
                try handle.write(contentsOf: Data(count: 508))
                return
            }
            offset += 4096
        }
        Issue.record("no xfs superblock in the first 256 MiB of \(path)")
    }
}
