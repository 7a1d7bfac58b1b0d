import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigImage

/// The ldd parser on output captured from this project's Debian 12 host.
@Suite struct LddOutputTests {
    @Test func ndctlClosureIncludesTheLoaderAndSkipsTheVdso() throws {
        let libraries = try LddOutput.parse(try Fixtures.text("ldd-ndctl.txt"), binary: "/usr/bin/ndctl")
        #expect(libraries.count == 13)
        #expect(libraries.first == SharedLibrary(name: "libndctl.so.6", path: "/lib/x86_64-linux-gnu/libndctl.so.6"))
        #expect(libraries.contains(SharedLibrary(name: "ld-linux-x86-64.so.2", path: "/lib64/ld-linux-x86-64.so.2")))
        #expect(libraries.contains { $0.name == "libkmod.so.2" })
        #expect(libraries.contains { $0.name == "libudev.so.1" })
        #expect(!libraries.contains { $0.name.hasPrefix("linux-vdso") })
        #expect(libraries.allSatisfy { $0.path.hasPrefix("/") })
    }

    @Test func mkfsXfsClosure() throws {
        let libraries = try LddOutput.parse(try Fixtures.text("ldd-mkfs.xfs.txt"), binary: "/usr/sbin/mkfs.xfs")
        #expect(libraries.map(\.name) == ["libblkid.so.1", "libuuid.so.1", "libinih.so.1", "liburcu.so.8",
                                         "libc.so.6", "ld-linux-x86-64.so.2"])
    }

    @Test func staticBinariesHaveNoLibraries() throws {
        #expect(try LddOutput.parse(try Fixtures.text("ldd-busybox-static.txt"), binary: "/bin/busybox") == [])
        #expect(try LddOutput.parse(try Fixtures.text("ldd-static-pie.txt"), binary: "/sbin/ldconfig") == [])
    }

    @Test func aMissingLibraryIsAnErrorNamingIt() throws {
        #expect(throws: ImageError.missingLibraries(binary: "/usr/sbin/mkfs.xfs", libraries: ["libinih.so.1"])) {
            try LddOutput.parse(try Fixtures.text("ldd-not-found.txt"), binary: "/usr/sbin/mkfs.xfs")
        }
    }

    @Test func oldStyleVdsoLineWithoutPathIsSkipped() throws {
        let text = "\tlinux-vdso.so.1 =>  (0x00007fff)\n\tlibc.so.6 => /lib/libc.so.6 (0x00007f00)\n"
        #expect(try LddOutput.parse(text, binary: "x") == [SharedLibrary(name: "libc.so.6", path: "/lib/libc.so.6")])
    }

    @Test func lddOnThisHost() throws {
        // The parser against ldd as it is installed here, not only the captured text.
        let libraries = try LibraryClosure.resolve("/usr/sbin/mkfs.xfs")
        #expect(libraries.contains { $0.name == "libc.so.6" })
        #expect(try LibraryClosure.resolve("/bin/busybox") == [])
        #expect(throws: ImageError.self) { try LibraryClosure.resolve("/no/such/binary") }
    }
}
