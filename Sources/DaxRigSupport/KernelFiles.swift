import Foundation

/// The files daxrig's kernel cache keeps beside each bzImage it built. Kernel writes
/// them; the floors above, which boot a bzImage path, read them to learn what that
/// kernel is: its config (VIRTIO_FS or 9P_FS lets a share mount)
/// and its vmlinux (symbols for gdb, stacks decoded to file:line). A bzImage daxrig did
/// not build has neither, and every reader has an answer for that.
public struct KernelFiles: Sendable, Equatable {
    public let directory: URL

    public init(directory: URL) { self.directory = directory }
    public init(bzImage: String) { directory = URL(fileURLWithPath: bzImage).deletingLastPathComponent() }

    public var bzImage: String { path("bzImage") }
    public var config: String { path("config") }
    public var systemMap: String { path("System.map") }
    public var vmlinux: String { path("vmlinux") }
    /// vmlinux-gdb.py beside vmlinux, as gdb's auto-load looks for it.
    public var gdbScripts: String { path("vmlinux-gdb.py") }

    /// The options the kept config builds in (`CONFIG_X=y`, as "CONFIG_X"); nil when
    /// there is no config to read.
    public func builtIn() -> Set<String>? {
        guard let text = try? Files.read(config) else { return nil }
        return Set(text.split(whereSeparator: \.isNewline).compactMap { line in
            line.hasSuffix("=y") ? String(line.dropLast(2)) : nil
        })
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}
