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

    /// The v2 series with CONFIG_FSDAX_PMD_SHARE asked off, tracing.config and
    /// soft-dirty.config: the option-off check, the tracepoint counts, and finding 5's
    /// fix with private tables (f5-madv-cold, f4-soft-dirty) boot this one kernel. With
    /// the option off, the series' only live change on the DAX path is patch 1, the
    /// MADV_COLD fix (patch 2 moves hugetlb's sharing helpers, still hugetlb's alone),
    /// so this kernel stands in for 6.1 plus kernels/patches/madv-cold-dax, which was a
    /// whole build of its own (431 s of make in the cold rehearsal of 2026-12-04).
    /// Tracing alone was one too (259 s). v2 refuses soft-dirty only with the option on.
    ///
    /// It is also the suite's kernel with DWARF (debug-info.config): gdb's and the
    /// decoded oops' tests boot it, as debug info changes nothing the kernel does.
    static func tracedOptionOffKernel() throws -> KernelArtifacts {
        try build(KernelBuildRequest(source: .default, patches: try series("fsdax-pmd-share"), base: .tinyconfig,
                                     fragments: [.pmemDax, try fragment("tracing.config"), try fragment("soft-dirty.config"),
                                                 try fragment("debug-info.config")],
                                     overrides: [ConfigOption(name: "CONFIG_FSDAX_PMD_SHARE", value: "n", origin: "test")]))
    }
}
