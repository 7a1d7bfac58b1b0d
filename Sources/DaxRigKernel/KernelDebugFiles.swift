import Foundation
import DaxRigSupport

/// What a debugger needs of a build, kept with the cached kernel: the build directory
/// is shared by every kernel of its tree and config, so its vmlinux is another
/// kernel's after the next build, and its gdb scripts are links into a source tree
/// that the next checkout rewrites.
enum KernelDebugFiles {
    /// Copies vmlinux, and with CONFIG_GDB_SCRIPTS the helpers, as files (the build
    /// has them as symlinks into the source tree).
    static func copy(from build: String, to kernel: URL) throws {
        try FileManager.default.copyItem(atPath: build + "/vmlinux", toPath: KernelFiles(directory: kernel).vmlinux)
        // vmlinux-gdb.py imports the helpers from scripts/gdb next to itself.
        let loader = build + "/vmlinux-gdb.py"
        guard Files.exists(loader) else { return }
        try copyResolved(loader, to: KernelFiles(directory: kernel).gdbScripts)
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
