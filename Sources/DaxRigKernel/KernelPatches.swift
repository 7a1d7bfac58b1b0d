import Foundation
import DaxRigSupport

/// The series a kernel was built with, kept beside it as a series directory of its own
/// (`patches/series` and the patch files): what is built later from the kernel's tree
/// (the kernel's own selftests) needs the tree as it was, and the directory the series
/// came from may be gone by then (a CI clone, a bisect's scratch, a user's edit).
public enum KernelPatches {
    static let directoryName = "patches"

    /// Writes the series into `kernel` unless it is there: on a store, and on a cache hit
    /// of a kernel stored before kernels kept their series. Written aside and renamed.
    public static func keep(_ series: PatchSeries, in kernel: URL) throws {
        let target = kernel.appendingPathComponent(directoryName)
        guard !Files.exists(target.path) else { return }
        let staging = try Files.temporaryDirectory(in: kernel, prefix: ".patches-")
        do {
            for patch in series.patches {
                let path = staging.appendingPathComponent(patch.name)
                try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Files.write(patch.text, to: path.path)
            }
            try Files.write(series.patches.map { "\($0.name) -p\($0.stripLevel)" }.joined(separator: "\n") + "\n",
                            to: staging.appendingPathComponent("series").path)
            try FileManager.default.moveItem(at: staging, to: target)
        } catch {
            Files.remove(staging.path)
            // Another process kept it first: theirs is the same series.
            if Files.exists(target.path) { return }
            throw error
        }
    }

    /// The series `kernel` was built with: its own copy, else the directory its manifest
    /// names; either must hash as the manifest says.
    public static func series(of kernel: KernelArtifacts) throws -> PatchSeries? {
        let manifest = kernel.manifest
        guard !manifest.patches.isEmpty else { return nil }
        let candidates = [kernel.directory.appendingPathComponent(directoryName).path] + (manifest.patchSeries.map { [$0] } ?? [])
        for directory in candidates where Files.exists(directory + "/series") {
            if let series = try? PatchSeries.load(directory: directory), series.patches.map(\.hash) == manifest.patches.map(\.sha256) {
                return series
            }
        }
        throw KernelBuildError.sourceMissing(path: manifest.patchSeries ?? "(the kernel's patch series)",
                                             hint: "the series kernel \(manifest.key) was built with is neither kept with it nor unchanged where it was; build the kernel again with its series (daxrig kernel build --patches DIR ...)")
    }
}
