import Foundation
import DaxRigSupport

/// Everything that decides what kernel comes out of a build.
public struct KernelBuildRequest: Sendable {
    public var source: KernelSource
    public var patches: PatchSeries?
    public var config: RequestedConfig
    public var fragments: [ConfigFragment]

    /// The default kernel: Debian's 6.1 tarball, tinyconfig + pmem-dax.config.
    public static var `default`: KernelBuildRequest {
        KernelBuildRequest(source: .default, patches: nil, base: .tinyconfig, fragments: [.pmemDax], overrides: [])
    }

    /// A request as users write one (the command line, a matrix file): a base name or
    /// .config path, fragment paths (none: the built-in pmem-dax.config) and
    /// CONFIG_X=V assignments, which `origin` names in errors.
    public init(source: KernelSource, patches: PatchSeries?, base: String, fragmentPaths: [String], assignments: [String],
                origin: String = "--set") throws {
        self.init(source: source, patches: patches, base: try ConfigBase.parse(base),
                  fragments: fragmentPaths.isEmpty ? [.pmemDax] : try fragmentPaths.map { try ConfigFragment.load($0) },
                  overrides: try assignments.map { try ConfigOption.parseAssignment($0, origin: origin) })
    }

    public init(source: KernelSource, patches: PatchSeries?, base: ConfigBase, fragments: [ConfigFragment], overrides: [ConfigOption]) {
        self.source = source
        self.patches = patches
        self.fragments = fragments
        self.config = RequestedConfig(base: base, fragments: fragments, overrides: overrides)
    }
}

/// The content-addressed key of a kernel build: what went in, never where it lay.
public struct KernelKey: Sendable, Equatable, Codable, CustomStringConvertible {
    public var value: String
    public var description: String { value }

    /// The inputs, each on its own line, hashed. Changing any one of them gives a new key.
    public static func compute(source: KernelSource.Identity, patches: PatchSeries?, config: RequestedConfig,
                               compiler: String, arch: String) -> KernelKey {
        let text = [
            // v3: kernels stored by builders that let a make outlive daxrig, or that did
            // not touch what changed before make ran, may hold objects of another commit
            // (the bisect demo's comment-only commit booted with the regression's dax.o).
            "daxrig-kernel-key v3",
            "source=\(source.kind):\(source.id)",
            "patches:", patches?.canonicalText ?? "",
            "config:", config.canonicalText,
            "compiler=\(compiler)",
            "arch=\(arch)",
        ].joined(separator: "\n")
        return KernelKey(value: String(ContentHash.of(text).prefix(20)))
    }
}

/// What the host contributes to a build's identity.
public enum Toolchain {
    /// The first line of `gcc --version`: a new compiler makes a new kernel.
    public static func compilerVersion() throws -> String {
        try Command("gcc", ["--version"]).run().standardOutput.split(separator: "\n").first.map(String.init) ?? "gcc"
    }

    public static var arch: String {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: name.machine) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
    }

    /// How many parallel jobs make gets: one per online core.
    public static var cores: Int { ProcessInfo.processInfo.activeProcessorCount }
}
