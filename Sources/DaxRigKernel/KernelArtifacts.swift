import Foundation
import DaxRigSupport

/// What a finished build leaves in the cache, described by its manifest.json.
public struct KernelManifest: Sendable, Codable, Equatable {
    public struct PatchRecord: Sendable, Codable, Equatable {
        public var name: String
        public var sha256: String
    }

    public struct Timings: Sendable, Codable, Equatable {
        /// Extracting, syncing or checking out, and resetting the work tree.
        public var sourceSeconds: Double
        public var patchSeconds: Double
        public var configSeconds: Double
        public var makeSeconds: Double
        public var totalSeconds: Double
    }

    public var key: String
    public var release: String
    public var source: KernelSource
    public var sourceIdentity: KernelSource.Identity
    public var patches: [PatchRecord]
    public var patchSeries: String?
    public var configBase: String
    public var fragments: [String]
    /// Every requested option, after merging, as CONFIG_X=V.
    public var requested: [String]
    public var configSHA256: String
    public var compiler: String
    public var arch: String
    /// Files make compiled in this build (0 when everything was up to date).
    public var compiledFiles: Int
    /// Source files that differ from what this build directory held after its last
    /// build, which is what makes a build incremental or not: another series built in
    /// between turns a one-line change into hundreds of files. Nil when the directory
    /// had no earlier build or its tree is unknown.
    public var changedSinceLastBuild: [String]?
    public var ccache: Bool
    public var timings: Timings
    public var created: Date
}

/// A kernel in the cache: its directory and what is in it.
/// A kernel to boot and record: its bzImage (all QEMU needs) and, when daxrig built
/// it, the build it came from (the manifest the store records, the log and config a
/// run keeps). It travels as a value from where the kernel was built or resolved, so
/// nothing further down rebuilds the build from path conventions.
public struct BootableKernel: Sendable {
    public var bzImage: String
    public var build: KernelArtifacts?

    /// A kernel daxrig built (or found in its cache) just now.
    public init(_ build: KernelArtifacts) {
        bzImage = build.bzImage
        self.build = build
    }

    /// A kernel given by its bzImage's path: its build is read here, once, when the path
    /// is a kernel directory daxrig wrote (a cached kernel, or a copy of one).
    public init(image bzImage: String) {
        self.bzImage = bzImage
        build = KernelStore.artifacts(ofImage: bzImage)
    }
}

public struct KernelArtifacts: Sendable {
    public var directory: URL
    public var manifest: KernelManifest
    /// True when this call found the kernel in the cache and ran no make.
    public var cacheHit: Bool

    public var files: KernelFiles { KernelFiles(directory: directory) }
    public var bzImage: String { files.bzImage }
    public var config: String { files.config }
    public var systemMap: String { files.systemMap }
    public var buildLog: String { directory.appendingPathComponent("build.log").path }
    /// The unstripped kernel, for symbols, decoding stacks and gdb; nil for a kernel
    /// cached before daxrig kept it.
    public var vmlinux: String? { Files.exists(files.vmlinux) ? files.vmlinux : nil }
    /// The tree's gdb helpers (lx-symbols, lx-dmesg, ...) when built with GDB_SCRIPTS.
    public var gdbScripts: String? { Files.exists(files.gdbScripts) ? files.gdbScripts : nil }

    static func load(_ directory: URL, cacheHit: Bool) throws -> KernelArtifacts {
        let data = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        return KernelArtifacts(directory: directory, manifest: try JSONCoding.decoder.decode(KernelManifest.self, from: data), cacheHit: cacheHit)
    }
}

/// The kernels in the cache: listing them and finding one by key or path.
public struct KernelStore: Sendable {
    public let cache: Cache

    public init(cache: Cache = .default) { self.cache = cache }

    public func list() -> [KernelArtifacts] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: cache.kernels.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }
            .compactMap { try? KernelArtifacts.load(cache.kernels.appendingPathComponent($0), cacheHit: true) }
            .sorted { $0.manifest.created < $1.manifest.created }
    }

    /// The build a bzImage came from, when daxrig built it: its kernel directory holds
    /// the manifest, build log and config beside it (a cached kernel, or a copy of that
    /// directory); nil for any other bzImage.
    public static func artifacts(ofImage bzImage: String) -> KernelArtifacts? {
        try? KernelArtifacts.load(URL(fileURLWithPath: bzImage).deletingLastPathComponent(), cacheHit: true)
    }

    public func artifacts(for key: KernelKey) -> KernelArtifacts? {
        let directory = cache.kernels.appendingPathComponent(key.value)
        return try? KernelArtifacts.load(directory, cacheHit: true)
    }

    /// A bzImage for `reference`: a path to a bzImage or to a kernel directory, or a
    /// cached kernel's key or unique key prefix.
    public func resolveImage(_ reference: String) throws -> String {
        if Files.isDirectory(reference), Files.exists(reference + "/bzImage") { return reference + "/bzImage" }
        if Files.exists(reference), !Files.isDirectory(reference) { return reference }
        let matches = list().filter { $0.manifest.key.hasPrefix(reference) }
        switch matches.count {
        case 1: return matches[0].bzImage
        case 0: throw KernelBuildError.unknownKernel(reference: reference, known: list().map(\.manifest.key))
        default: throw KernelBuildError.ambiguousKernel(reference: reference, matches: matches.map(\.manifest.key))
        }
    }
}
