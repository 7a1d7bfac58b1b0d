import Foundation
import Testing
@testable import DaxRigImage
@testable import DaxRigMachine
@testable import DaxRigProtocol
@testable import DaxRigSupport

/// `daxrig boot --share HOST[:GUEST][:ro]`: what is refused before anything boots, which
/// transport a kernel can take, and the domain XML. The boot itself is BootIntegrationTests'.
@Suite struct HostShareTests {
    @Test func aDirectoryLandsInRootByDefaultReadWriteUnlessRo() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Files.removeDirectory(directory.path) }
        try FileManager.default.createDirectory(atPath: directory.path + "/src", withIntermediateDirectories: true)
        let host = directory.path + "/src"
        #expect(try HostShare.parse("src", workingDirectory: directory.path) == HostShare(host: host, guest: "/root/src"))
        #expect(try HostShare.parse("src:ro", workingDirectory: directory.path) == HostShare(host: host, guest: "/root/src", readOnly: true))
        #expect(try HostShare.parse("./src:/opt//s", workingDirectory: directory.path) == HostShare(host: host, guest: "/opt/s"))
        #expect(try HostShare.parse(host + ":/opt/s:ro", workingDirectory: "/") == HostShare(host: host, guest: "/opt/s", readOnly: true))
        #expect(try HostShare.parse("src:/root", workingDirectory: directory.path).guest == "/root")
    }

    @Test(arguments: ["missing", ":", "", "file", "src:relative", "src:/", "src:/a:/b", "src:/a:rw", "src:/mnt/pmem", "src:/mnt",
                      "src:/daxrig/x", "src:/init", "src:/proc", "src:/dev/shm", "src:/tmp", "src:/sys/kernel"])
    func whatCannotBeSharedIsRefusedAsBadInputNamingIt(_ argument: String) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Files.removeDirectory(directory.path) }
        try FileManager.default.createDirectory(atPath: directory.path + "/src", withIntermediateDirectories: true)
        try Files.write("x", to: directory.path + "/file")
        do {
            _ = try HostShare.parse(argument, workingDirectory: directory.path)
            Issue.record("\(argument) was taken")
        } catch let error as GuestAdditionError {
            #expect(error.exitStatus == .badInput)
            #expect(error.description.hasPrefix("--share"), "\(error)")
        }
    }

    @Test func aShareThatWouldHideTheImageAnotherShareOrAnAdditionIsRefused() throws {
        let image = try GuestAdditionTests().image()
        let share = { (guest: String) in HostShare(host: "/h", guest: guest) }
        try HostShare.check([share("/root"), share("/opt/a")], image: image, additions: [])
        for (shares, additions, said) in [([share("/bin")], [GuestAddition](), "over /bin/busybox"),
                                          ([share("/lib")], [], "over /lib/x86_64-linux-gnu/libc.so.6"),
                                          ([share("/bin/sh")], [], "over /bin/sh, a symlink"),
                                          ([share("/bin/sh/x")], [], "under /bin/sh, a symlink"),
                                          ([share("/bin/busybox/y")], [], "under /bin/busybox, a file"),
                                          ([share("/opt/a"), share("/opt")], [], "--share /h:/opt/a"),
                                          ([share("/opt/a")], [GuestAddition(host: "/r", guest: "/opt/a/r")], "--add /r:/opt/a/r")] {
            do {
                try HostShare.check(shares, image: image, additions: additions)
                Issue.record("\(shares) was taken")
            } catch let error as GuestAdditionError {
                #expect(error.exitStatus == .badInput)
                #expect(error.description.contains(said), "\(error)")
            }
        }
    }

    /// From the config daxrig keeps beside every bzImage it built; a bare bzImage has
    /// none, and the guest's mount is then what says.
    @Test func theKernelsConfigSaysWhichTransportsItCanMount() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Files.removeDirectory(directory.path) }
        let kernel = directory.path + "/bzImage"
        #expect(HostShare.transports(builtIn: KernelFiles(bzImage: kernel).builtIn()) == nil)
        try HostShare.checkSupport(builtIn: KernelFiles(bzImage: kernel).builtIn(), kernel: kernel)
        try Files.write("CONFIG_VIRTIO_FS=y\nCONFIG_9P_FS=y\nCONFIG_NET_9P_VIRTIO=y\n", to: directory.path + "/config")
        #expect(HostShare.transports(builtIn: KernelFiles(bzImage: kernel).builtIn()) == [.virtiofs, .ninep])
        try Files.write("# CONFIG_VIRTIO_FS is not set\nCONFIG_9P_FS=y\nCONFIG_NET_9P_VIRTIO=y\n", to: directory.path + "/config")
        #expect(HostShare.transports(builtIn: KernelFiles(bzImage: kernel).builtIn()) == [.ninep])
        #expect(HostShare.transport(for: HostShare(host: "/h", guest: "/g"), builtIn: KernelFiles(bzImage: kernel).builtIn()).0 == .ninep)
        try Files.write("CONFIG_9P_FS=y\n", to: directory.path + "/config")
        #expect(throws: GuestAdditionError.self) { try HostShare.checkSupport(builtIn: KernelFiles(bzImage: kernel).builtIn(), kernel: kernel) }
    }

    /// A read-only share goes over 9p, where QEMU refuses writes; the 9p fallback is
    /// for virtio-fs's own failures only, never for any libvirt error.
    @Test func readOnlyGoesOver9pAndOnlyVirtiofsFailuresFallBack() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Files.removeDirectory(directory.path) }
        let kernel = directory.path + "/bzImage"
        try Files.write("CONFIG_VIRTIO_FS=y\nCONFIG_9P_FS=y\nCONFIG_NET_9P_VIRTIO=y\n", to: directory.path + "/config")
        #expect(HostShare.transport(for: HostShare(host: "/h", guest: "/g", readOnly: true), builtIn: KernelFiles(bzImage: kernel).builtIn()).0 == .ninep)
        try Files.write("CONFIG_VIRTIO_FS=y\n", to: directory.path + "/config")
        #expect(HostShare.transport(for: HostShare(host: "/h", guest: "/g", readOnly: true), builtIn: KernelFiles(bzImage: kernel).builtIn()).0 == .virtiofs || !FileManager.default.isExecutableFile(atPath: HostShare.virtiofsd))
        #expect(HostShare.isVirtiofsFailure("internal error: virtiofsd died unexpectedly"))
        #expect(HostShare.isVirtiofsFailure("unsupported configuration: 'memfd' memory source is not supported"))
        #expect(!HostShare.isVirtiofsFailure("internal error: process exited while connecting to monitor: qemu-system-x86_64: -object memory-backend-file: can't open backing store"))
        #expect(!HostShare.isVirtiofsFailure("operation failed: domain 'daxrig-1-x' already exists"))
    }

    @Test func virtiofsGetsSharedMemoryAndItsDaemonAnd9pItsReadOnlyFlag() {
        var spec = DomainSpec(name: "d", accelerator: .tcg, memoryMiB: 512, vcpus: 2, kernel: "/k", initrd: "/i", commandLine: "c",
                              nvdimms: [], console: .file("/c"))
        #expect(!spec.xml().contains("<filesystem"))
        spec.shares = [DomainShare(source: "/h/a'b", tag: "daxrig0", readOnly: true, transport: .virtiofs, virtiofsd: "/v")]
        let virtiofs = spec.xml()
        #expect(virtiofs.contains("<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>"))
        #expect(virtiofs.contains("<driver type='virtiofs'/>") && virtiofs.contains("<binary path='/v'/>"))
        #expect(virtiofs.contains("<source dir='/h/a&apos;b'/>") && virtiofs.contains("<target dir='daxrig0'/>"))
        #expect(!virtiofs.contains("<readonly/>"))
        spec.shares[0].transport = .ninep
        let ninep = spec.xml()
        #expect(!ninep.contains("memoryBacking") && !ninep.contains("virtiofs"))
        #expect(ninep.contains("<readonly/>"))
    }
}
