import DaxRig
import Foundation
import DaxRigKernel
import DaxRigSupport

/// Kernels that more than one suite boots. On a bare machine each distinct config is a
/// whole build (190 to 360 s of make here): ccache cannot serve one config's objects
/// to another, because every file includes the config's autoconf.h (and the series
/// patch headers nearly every file includes). So a suite that needs a traced kernel
/// takes one another suite boots instead of a config of its own (issue 14, item 11):
/// the same cases run, on a kernel that checks at least as much.
extension Rig {
    static func fragment(_ name: String) throws -> ConfigFragment {
        try ConfigFragment.load(packageRoot.appendingPathComponent("kernels/configs/\(name)").path)
    }

    static func series(_ name: String) throws -> PatchSeries {
        try PatchSeries.load(directory: packageRoot.appendingPathComponent("kernels/patches/\(name)").path)
    }

    static func build(_ request: KernelBuildRequest) throws -> KernelArtifacts {
        try KernelBuilder(cache: cache, progress: TerminalProgress(interval: 30)).build(request)
    }

    /// The v2 series with CONFIG_FSDAX_PMD_SHARE, optionally with more fragments.
    static func sharingKernel(_ extra: [ConfigFragment] = []) throws -> KernelArtifacts {
        try build(KernelBuildRequest(source: .default, patches: try series("fsdax-pmd-share"), base: .tinyconfig,
                                     fragments: [.pmemDax, try fragment("fsdax-pmd-share.config")] + extra, overrides: []))
    }

    /// The debug build of the v2 series: debug-vm.config and debug-kasan.config (KASAN,
    /// PAGE_TABLE_CHECK). The only debug kernel the suite builds: the stress soak had a
    /// debug-vm-only build of its own, a whole build more on a bare machine (370 s of
    /// make in the cold rehearsal of 2026-12-04) for checks this one makes too.
    static func debugSharingKernel() throws -> KernelArtifacts {
        try sharingKernel([try fragment("debug-vm.config"), try fragment("debug-kasan.config")])
    }

    /// The v2 series with CONFIG_FSDAX_PMD_SHARE asked off, and tracing.config: the
    /// option-off check and the tracepoint counts boot this one kernel. Tracing alone
    /// was a config of its own (259 s of make); here the option-off check also gets the
    /// fault counts unpatched 6.1 takes, one PMD fault per 2 MiB per process.
    static func tracedOptionOffKernel() throws -> KernelArtifacts {
        try build(KernelBuildRequest(source: .default, patches: try series("fsdax-pmd-share"), base: .tinyconfig,
                                     fragments: [.pmemDax, try fragment("tracing.config")],
                                     overrides: [ConfigOption(name: "CONFIG_FSDAX_PMD_SHARE", value: "n", origin: "test")]))
    }
}
