import Glibc
import GuestCore

/// The file systems PID 1 has to mount itself: an initramfs starts with nothing but
/// its own files.
enum Mounts {
    struct Spec {
        var source: String
        var target: String
        var type: String
        var flags: UInt
        var options: String?
        /// Absent support (tracefs in a kernel without tracing) is not an error.
        var optional: Bool = false
    }

    static let early: [Spec] = [
        Spec(source: "proc", target: "/proc", type: "proc", flags: UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), options: nil),
        Spec(source: "sysfs", target: "/sys", type: "sysfs", flags: UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), options: nil),
        Spec(source: "devtmpfs", target: "/dev", type: "devtmpfs", flags: UInt(MS_NOSUID), options: "mode=0755"),
        Spec(source: "tmpfs", target: "/tmp", type: "tmpfs", flags: UInt(MS_NOSUID | MS_NODEV), options: "mode=1777"),
        // Workloads read tracepoints (fs_dax:dax_pmd_fault_done) where the kernel has them.
        Spec(source: "tracefs", target: "/sys/kernel/tracing", type: "tracefs", flags: 0, options: nil, optional: true),
    ]

    /// Mounts /proc, /sys, /dev (devtmpfs) and /tmp; returns what was mounted, for the record.
    static func mountEarly() throws -> [String] {
        var done: [String] = []
        for spec in early {
            if spec.optional && !FileIO.exists(spec.target) { continue }
            do {
                try FileIO.makeDirectories(spec.target)
                try mount(spec)
                done.append("\(spec.type) on \(spec.target)")
            } catch let failure as AgentFailure {
                if !spec.optional { throw AgentFailure("mount", failure.message) }
            }
        }
        return done
    }

    /// mount(2); EBUSY on a target that already has this file system counts as done
    /// (a kernel with CONFIG_DEVTMPFS_MOUNT mounts /dev before init runs).
    static func mount(_ spec: Spec) throws {
        let result: Int32
        if let options = spec.options {
            result = options.withCString { Glibc.mount(spec.source, spec.target, spec.type, spec.flags, $0) }
        } else {
            result = Glibc.mount(spec.source, spec.target, spec.type, spec.flags, nil)
        }
        if result == 0 { return }
        let code = errno
        if code == EBUSY, let entry = table().last(where: { $0.mountPoint == spec.target }), entry.type == spec.type { return }
        var message = "mount -t \(spec.type) \(spec.source) \(spec.target)"
            + (spec.options.map { " -o \($0)" } ?? "") + ": \(errnoText(code))"
        if code == ENODEV { message += "; the kernel lacks \(spec.type) support (check the kernel config)" }
        throw AgentFailure("mount", message)
    }

    typealias Entry = MountEntry

    /// /proc/mounts, with its octal escapes (\040 for a space) undone.
    static func table() -> [Entry] {
        guard let text = try? FileIO.readText("/proc/mounts") else { return [] }
        return MountEntry.parseTable(text)
    }

    /// Unmounts, falling back to a lazy detach if something still holds the mount.
    static func unmount(_ target: String) -> String {
        if umount2(target, 0) == 0 { return "unmounted \(target)" }
        let reason = errnoText()
        if umount2(target, Int32(MNT_DETACH)) == 0 { return "\(target) busy (\(reason)); detached" }
        return "could not unmount \(target): \(reason); data is synced"
    }
}
