import DaxRig
import DaxRigProtocol
import Foundation
import Synchronization
import Testing
import DaxRigImage
import DaxRigSupport

/// The real guest image from images/guest.recipe and the agent this build produced
/// (`swift build` puts daxrig-agent next to the test bundle), checked by unpacking it
/// and running its tools in a chroot: a closure ldd missed shows up here, not in a guest.
@Suite(.serialized, .timed) struct GuestImageIntegrationTests {
    static let recipePath = Rig.packageRoot.appendingPathComponent("images/guest.recipe").path

    /// Builds into a private cache so the first build really packs.
    func buildTwice() throws -> (GuestImage, GuestImage, URL) {
        let root = try Rig.scratch("image")
        let builder = ImageBuilder(cache: Cache(root: root))
        let recipe = try ImageRecipe.load(path: Self.recipePath)
        let agent = try AgentBinary.locate()
        let first = try builder.build(recipe: recipe, agent: agent)
        let second = try builder.build(recipe: recipe, agent: agent)
        return (first, second, root)
    }

    func listing(_ archive: String) throws -> Set<String> {
        Set(try Command("cpio", ["-t", "--quiet", "-F", archive]).run().standardOutput.split(separator: "\n").map { "/" + $0 })
    }

    @Test func imageHoldsAgentToolsLibrariesAndConsoleAndIsCached() throws {
        let (first, second, root) = try buildTwice()
        defer { Files.remove(root.path) }
        #expect(!first.cacheHit)
        #expect(second.cacheHit)
        #expect(second.key == first.key)
        #expect(second.initramfs == first.initramfs)
        #expect(first.manifest.totalSize == Int(Files.size(first.initramfs)))
        #expect(second.manifest == first.manifest)

        let names = try listing(first.initramfs)
        for path in ["/init", "/bin/busybox", "/bin/sh", "/bin/mount", "/bin/ndctl", "/sbin/mkfs.xfs", "/sbin/mkfs.ext4",
                     "/dev/console", "/proc", "/sys", "/tmp", "/lib64/ld-linux-x86-64.so.2", "/etc/mtab"] {
            #expect(names.contains(path), "\(path) missing")
        }
        // Every library ldd lists for each tool on this host.
        for tool in ["/usr/bin/ndctl", "/usr/sbin/mkfs.xfs", "/usr/sbin/mkfs.ext4"] {
            for library in try LibraryClosure.resolve(tool) {
                #expect(names.contains(library.path), "\(library.path) (for \(tool)) missing")
            }
        }
        #expect(first.manifest.entries.contains { $0.path == "/dev/console" && $0.kind == "chardev" && $0.target == "5:1" })
        let agentEntry = try #require(first.manifest.entries.first { $0.path == "/init" })
        #expect(agentEntry.size == first.manifest.agentSize)
        #expect(agentEntry.mode == "0755")
        print("image \(first.key): \(first.manifest.totalSize / 1024) KiB, agent \(first.manifest.agentSize / 1024) KiB stripped, \(first.manifest.entries.count) entries")
    }

    @Test(.enabled(if: getuid() == 0, "chroot needs root"))
    func toolsAndAgentRunInAChrootOfTheImage() throws {
        let (image, _, root) = try buildTwice()
        defer { Files.remove(root.path) }
        let tree = root.appendingPathComponent("tree")
        try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
        try Command("cpio", ["-idm", "--quiet", "-F", image.initramfs], directory: tree.path).run()

        let versions = try Command("chroot", [tree.path, "/bin/sh", "-c", "ndctl --version && mkfs.xfs -V && mkfs.ext4 -V"])
            .runAllowingFailure()
        #expect(versions.status == 0, "\(versions.standardOutput)\(versions.standardError)")
        #expect(versions.standardOutput.contains("mkfs.xfs version"))

        // Not only --version: both mkfs really format (a sparse file) in the bare root.
        // (xfs with su=2m needs more than 512 MiB: below that its log cannot fit.)
        let mkfs = try Command("chroot", [tree.path, "/bin/sh", "-c", """
            truncate -s 1G /tmp/xfs.img && mkfs.xfs -f -q -d su=2m,sw=1 -m reflink=0 /tmp/xfs.img && \
            truncate -s 64M /tmp/ext4.img && mkfs.ext4 -F -q -b 4096 /tmp/ext4.img && echo formatted
            """]).runAllowingFailure()
        #expect(mkfs.status == 0 && mkfs.standardOutput.contains("formatted"), "\(mkfs.standardOutput)\(mkfs.standardError)")

        // The agent outside PID 1 only checks: the plan decodes and its tools are on PATH.
        let plan = GuestPlan(pmem: PmemSetup(fileSystem: .xfs), command: ["/bin/sh", "-c", "true"])
        // Where the agent leaves the plan the host sent it.
        try FileManager.default.createDirectory(at: tree.appendingPathComponent("daxrig"), withIntermediateDirectories: true)
        try JSONEncoder().encode(plan).write(to: tree.appendingPathComponent(String(GuestPlan.path.dropFirst())))
        let check = try Command("chroot", [tree.path, "/init", "--check"]).runAllowingFailure()
        #expect(check.status == 0, "\(check.standardOutput)\(check.standardError)")
        #expect(check.standardOutput.contains("plan /daxrig/plan.json: pmem xfs at /mnt/pmem"))
        #expect(check.standardOutput.contains("mkfs.xfs: /sbin/mkfs.xfs"))
    }

    /// Two builders at once (the lock is flock, per open file, so threads contend like
    /// processes do): exactly one packs, the other waits and gets the hit.
    @Test func concurrentBuildsPackOnce() throws {
        let root = try Rig.scratch("image-race")
        defer { Files.remove(root.path) }
        let recipe = try ImageRecipe.load(path: Self.recipePath)
        let agent = try AgentBinary.locate()
        let results = Mutex<[Result<GuestImage, any Error>]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            let result = Result { try ImageBuilder(cache: Cache(root: root)).build(recipe: recipe, agent: agent) }
            results.withLock { $0.append(result) }
        }
        let images = try results.withLock { try $0.map { try $0.get() } }
        #expect(images.count == 2)
        #expect(Set(images.map(\.key)).count == 1)
        #expect(images.filter { !$0.cacheHit }.count == 1)
        // The image and the lookup memo (ImageMemo), and no temporary directory.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("images").path)
        #expect(leftovers.filter { !$0.hasPrefix(".memo-") } == [images[0].key])
        #expect(leftovers.filter { $0.hasPrefix(".memo-") }.count == 1)
    }
}
