import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigKernel
@testable import DaxRigSupport

@Suite struct KernelKeyTests {
    let source = KernelSource.Identity(kind: "tarball", id: "abc", lineage: "tar-abc")
    let config = RequestedConfig(base: .tinyconfig, fragments: [.pmemDax], overrides: [])

    func key(source: KernelSource.Identity? = nil, patches: PatchSeries? = nil, config: RequestedConfig? = nil,
             compiler: String = "gcc 12.2.0", arch: String = "x86_64") -> KernelKey {
        KernelKey.compute(source: source ?? self.source, patches: patches, config: config ?? self.config, compiler: compiler, arch: arch)
    }

    func series(_ text: String) -> PatchSeries {
        PatchSeries(directory: "/somewhere", patches: [.init(name: "p", path: "/somewhere/p", stripLevel: 1, text: text, hash: ContentHash.of(text))])
    }

    @Test func sameInputsGiveTheSameKey() {
        #expect(key() == key())
        #expect(key(patches: series("x")) == key(patches: series("x")))
    }

    @Test func everyInputChangesTheKey() throws {
        let base = key()
        let variants = [
            key(source: .init(kind: "tarball", id: "abd", lineage: "tar-abc")),
            key(source: .init(kind: "git", id: "abc", lineage: "tar-abc")),
            key(patches: series("x")),
            key(config: RequestedConfig(base: .defconfig, fragments: [.pmemDax], overrides: [])),
            key(config: RequestedConfig(base: .tinyconfig, fragments: [.pmemDax], overrides: [try .parseAssignment("CONFIG_KASAN=y")])),
            key(compiler: "gcc 13.1.0"),
            key(arch: "aarch64"),
        ]
        for variant in variants { #expect(variant != base) }
        #expect(Set(variants.map(\.value)).count == variants.count)
        #expect(key(patches: series("x")) != key(patches: series("y")))
    }

    @Test func keyIgnoresWhereInputsLieAndTheOrderOfRequests() throws {
        let moved = PatchSeries(directory: "/elsewhere", patches: [.init(name: "p", path: "/elsewhere/p", stripLevel: 1, text: "x", hash: ContentHash.of("x"))])
        #expect(key(patches: series("x")) == key(patches: moved))
        let ab = RequestedConfig(base: .tinyconfig, fragments: [try ConfigFragment(name: "1", text: "CONFIG_A=y\nCONFIG_B=y")], overrides: [])
        let ba = RequestedConfig(base: .tinyconfig, fragments: [try ConfigFragment(name: "2", text: "CONFIG_B=y\nCONFIG_A=y")], overrides: [])
        #expect(key(config: ab) == key(config: ba))
    }

    @Test func contentHashMatchesKnownSHA256Vectors() {
        #expect(ContentHash.of("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(ContentHash.of("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func makeOutputClassifiesCompilesAndPhases() {
        #expect(MakeOutput.classify("  CC      mm/memory.o") == .compiled("mm/memory.o"))
        #expect(MakeOutput.classify("  HOSTCC  scripts/basic/fixdep") == .compiled("scripts/basic/fixdep"))
        #expect(MakeOutput.classify("  LD      vmlinux") == .phase("link", "vmlinux"))
        #expect(MakeOutput.classify("Kernel: arch/x86/boot/bzImage is ready  (#1)") == .other)
        #expect(MakeOutput.classify("  BUILD   arch/x86/boot/bzImage") == .phase("image", "arch/x86/boot/bzImage"))
    }

    @Test func firstErrorsPicksCompilerErrorsWithContext() {
        let log = """
              CC      fs/dax.o
            ../fs/dax.c:61:9: error: expected ';' before 'return'
               61 |         return 0;
                  |         ^~~~~~
            make[3]: *** [../scripts/Makefile.build:250: fs/dax.o] Error 1
            """
        let errors = MakeOutput.firstErrors(in: log)
        #expect(errors.hasPrefix("../fs/dax.c:61:9: error: expected ';'"))
        #expect(errors.contains("Error 1"))
    }
}
