import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigKernel

@Suite struct ConfigTests {
    @Test func fragmentReadsAssignmentsAndNotSetLines() throws {
        let fragment = try ConfigFragment(name: "f.config", text: """
            # comment
            CONFIG_A=y

            # CONFIG_B is not set
            CONFIG_C="quoted value"
            CONFIG_D=0x10
            """)
        #expect(fragment.options.map(\.description) == ["CONFIG_A=y", "# CONFIG_B is not set", "CONFIG_C=\"quoted value\"", "CONFIG_D=0x10"])
        #expect(fragment.options[1].origin == "f.config:4")
    }

    @Test func malformedFragmentLineIsAnErrorWithFileAndLine() {
        #expect(throws: ConfigError.self) { try ConfigFragment(name: "bad.config", text: "CONFIG_A=y\nFS_DAX=y\n") }
        do {
            _ = try ConfigFragment(name: "bad.config", text: "CONFIG_A=y\nFS_DAX=y\n")
        } catch {
            #expect("\(error)".hasPrefix("bad.config:2: cannot read 'FS_DAX=y'"))
        }
    }

    @Test func setAcceptsWithAndWithoutPrefixAndRejectsGarbage() throws {
        #expect(try ConfigOption.parseAssignment("CONFIG_KASAN=y").name == "CONFIG_KASAN")
        #expect(try ConfigOption.parseAssignment("KASAN=n").description == "# CONFIG_KASAN is not set")
        #expect(throws: ConfigError.self) { try ConfigOption.parseAssignment("CONFIG_KASAN") }
        #expect(throws: ConfigError.self) { try ConfigOption.parseAssignment("=y") }
    }

    @Test func laterFragmentsAndOverridesWinInOrder() throws {
        let a = try ConfigFragment(name: "a", text: "CONFIG_X=y\nCONFIG_Y=y\n")
        let b = try ConfigFragment(name: "b", text: "# CONFIG_X is not set\nCONFIG_Z=m\n")
        let merged = RequestedConfig(base: .tinyconfig, fragments: [a, b], overrides: [try .parseAssignment("CONFIG_Y=n")])
        #expect(merged.options.map(\.description) == ["# CONFIG_X is not set", "# CONFIG_Y is not set", "CONFIG_Z=m"])
        #expect(merged.options[0].origin == "b:1")
        #expect(merged.options[1].origin == "--set")
    }

    @Test func applyReplacesOldLinesOfRequestedSymbolsOnly() throws {
        let requested = RequestedConfig(base: .tinyconfig, fragments: [try ConfigFragment(name: "f", text: "CONFIG_A=y\n# CONFIG_B is not set\n")], overrides: [])
        let result = requested.apply(to: "CONFIG_A=n\nCONFIG_B=y\nCONFIG_C=y\n# CONFIG_D is not set\n")
        #expect(result == "CONFIG_C=y\n# CONFIG_D is not set\n# daxrig requests\nCONFIG_A=y\n# CONFIG_B is not set\n")
    }

    @Test func builtDefaultKernelConfigMeetsEveryRequestOfTheDefaultFragment() throws {
        // The .config our default build produced: every request of pmem-dax.config held.
        let config = DotConfig(text: try Fixtures.text("tiny-pmem-dax.config"))
        let requested = RequestedConfig(base: .tinyconfig, fragments: [.pmemDax], overrides: [])
        #expect(requested.options.count > 40)
        #expect(config.unmet(requested).isEmpty)
        #expect(config.value(of: "CONFIG_FS_DAX") == "y")
    }

    @Test func unmetRequestsAreListedAgainstTheRealConfig() throws {
        let config = DotConfig(text: try Fixtures.text("tiny-pmem-dax.config"))
        let requested = RequestedConfig(base: .tinyconfig, fragments: [.pmemDax],
                                        overrides: [try .parseAssignment("CONFIG_KASAN=y"), try .parseAssignment("CONFIG_FS_DAX=n")])
        let unmet = config.unmet(requested)
        #expect(unmet.map(\.option.name) == ["CONFIG_FS_DAX", "CONFIG_KASAN"])
        #expect(unmet.map(\.actual) == ["y", "n"])
    }

    @Test func kconfigEntryIncludesEnclosingIfBlockAndOwnDependencies() throws {
        let text = try Fixtures.text("nvdimm.Kconfig")
        let entry = try #require(KconfigEntry.parse(symbol: "BTT", fileText: text, path: "drivers/nvdimm/Kconfig"))
        #expect(entry.dependsOn.first == "LIBNVDIMM")
        #expect(entry.location.hasPrefix("drivers/nvdimm/Kconfig:"))
        let top = try #require(KconfigEntry.parse(symbol: "LIBNVDIMM", fileText: text, path: "drivers/nvdimm/Kconfig"))
        #expect(top.dependsOn == ["PHYS_ADDR_T_64BIT", "HAS_IOMEM", "BLK_DEV"])
        #expect(KconfigEntry.parse(symbol: "NO_SUCH_THING", fileText: text, path: "x") == nil)
    }

    @Test func kconfigSymbolsSkipTristateConstants() {
        let entry = KconfigEntry(location: "x", dependsOn: ["(LIBNVDIMM=ENCRYPTED_KEYS) || LIBNVDIMM=m", "COMPILE_TEST && X86_64"], symbolValues: [])
        #expect(entry.symbols == ["LIBNVDIMM", "ENCRYPTED_KEYS", "COMPILE_TEST", "X86_64"])
    }

    @Test func unmetOptionMessageNamesDependenciesAndTheirValues() {
        let unmet = UnmetOption(option: ConfigOption(name: "CONFIG_KASAN", value: "y", origin: "--set"), actual: "n",
                                dependencies: KconfigEntry(location: "lib/Kconfig.kasan:34", dependsOn: ["HAVE_ARCH_KASAN", "SLUB || SLAB"],
                                                           symbolValues: [("HAVE_ARCH_KASAN", "y"), ("SLUB", "n"), ("SLAB", "n")]))
        #expect(unmet.description == "CONFIG_KASAN: requested y (--set), got not set; lib/Kconfig.kasan:34 depends on: HAVE_ARCH_KASAN && SLUB || SLAB [HAVE_ARCH_KASAN=y, SLUB=n, SLAB=n]")
    }

    @Test func helpTextThatStartsWithIfIsNotAnIfBlock() throws {
        // lib/Kconfig.debug of 6.1: help texts before LKDTM have lines beginning "if ...".
        let entry = try #require(KconfigEntry.parse(symbol: "LKDTM", fileText: try Fixtures.text("Kconfig.debug"), path: "lib/Kconfig.debug"))
        #expect(entry.dependsOn == ["RUNTIME_TESTING_MENU", "DEBUG_FS"])
    }
}
