import Foundation
import DaxRigSupport

/// What a debugger needs of a build, kept with the cached kernel: the build directory
/// is shared by every kernel of its tree and config, so its vmlinux is another
/// kernel's after the next build, and its gdb scripts are links into a source tree
/// that the next checkout rewrites.
enum KernelDebugFiles {
    static func vmlinux(in directory: URL) -> String { directory.appendingPathComponent("vmlinux").path }
    /// vmlinux-gdb.py beside vmlinux, as gdb's auto-load looks for it; it imports the
    /// helpers from scripts/gdb next to itself.
    static func gdbScripts(in directory: URL) -> String { directory.appendingPathComponent("vmlinux-gdb.py").path }

    /// Copies vmlinux, and with CONFIG_GDB_SCRIPTS the helpers, as files (the build
    /// has them as symlinks into the source tree).
    static func copy(from build: String, to kernel: URL) throws {
        try FileManager.default.copyItem(atPath: build + "/vmlinux", toPath: vmlinux(in: kernel))
        let loader = build + "/vmlinux-gdb.py"
        guard Files.exists(loader) else { return }
        try copyResolved(loader, to: gdbScripts(in: kernel))
        let helpers = build + "/scripts/gdb/linux"
        let target = kernel.appendingPathComponent("scripts/gdb/linux").path
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: helpers) where name.hasSuffix(".py") {
            try copyResolved(helpers + "/" + name, to: target + "/" + name)
        }
    }

    private static func copyResolved(_ path: String, to destination: String) throws {
        try FileManager.default.copyItem(atPath: URL(fileURLWithPath: path).resolvingSymlinksInPath().path, toPath: destination)
    }
}
