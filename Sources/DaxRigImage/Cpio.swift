import Foundation
import DaxRigSupport

/// One member of a cpio archive. Paths are absolute in the guest ("/bin/sh"); the
/// archive stores them without the leading slash, as the kernel's gen_init_cpio does.
public struct CpioEntry: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case directory
        case file(Data)
        case symlink(target: String)
        case characterDevice(major: UInt32, minor: UInt32)
    }

    public var path: String
    public var kind: Kind
    /// Permission bits only (0o7777); the file type comes from `kind`.
    public var permissions: UInt32

    public init(path: String, kind: Kind, permissions: UInt32) {
        self.path = path
        self.kind = kind
        self.permissions = permissions & 0o7777
    }

    public static func directory(_ path: String, permissions: UInt32 = 0o755) -> CpioEntry {
        CpioEntry(path: path, kind: .directory, permissions: permissions)
    }

    public static func file(_ path: String, _ data: Data, permissions: UInt32 = 0o644) -> CpioEntry {
        CpioEntry(path: path, kind: .file(data), permissions: permissions)
    }

    public static func symlink(_ path: String, to target: String) -> CpioEntry {
        CpioEntry(path: path, kind: .symlink(target: target), permissions: 0o777)
    }

    public static func characterDevice(_ path: String, major: UInt32, minor: UInt32, permissions: UInt32 = 0o600) -> CpioEntry {
        CpioEntry(path: path, kind: .characterDevice(major: major, minor: minor), permissions: permissions)
    }

    /// st_mode: file type bits plus permissions.
    var mode: UInt32 {
        switch kind {
        case .directory: return 0o040000 | permissions
        case .file: return 0o100000 | permissions
        case .symlink: return 0o120000 | permissions
        case .characterDevice: return 0o020000 | permissions
        }
    }

    var isDirectory: Bool { kind == .directory }

    /// The member's data: file contents, or a symlink's target.
    var body: Data {
        switch kind {
        case let .file(data): return data
        case let .symlink(target): return Data(target.utf8)
        case .directory, .characterDevice: return Data()
        }
    }
}

/// A cpio archive in the "newc" format (magic 070701), the one format the kernel
/// unpacks into its initramfs.
///
/// Deterministic by construction, so that an image's bytes depend only on what is in
/// it: members are sorted by path (a parent always sorts before its children),
/// missing parent directories are added (0755), mtime and uid/gid are 0, and inode
/// numbers count up from 1 in that order.
public struct CpioArchive: Sendable {
    public private(set) var entries: [String: CpioEntry] = [:]

    public init() {}

    public init(_ entries: [CpioEntry]) throws {
        for entry in entries { try add(entry) }
    }

    /// Adds a member. The same path twice is an error unless both are the same
    /// directory or identical members (a library two tools share).
    public mutating func add(_ entry: CpioEntry) throws {
        var entry = entry
        entry.path = try Self.normalize(entry.path)
        if let existing = entries[entry.path] {
            if existing == entry { return }
            throw CpioError.conflict(path: "/" + entry.path, existing: existing.kind.summary, new: entry.kind.summary)
        }
        entries[entry.path] = entry
    }

    /// Members in archive order, parents included.
    public func members() throws -> [CpioEntry] {
        var all = entries
        for path in entries.keys {
            var parent = (path as NSString).deletingLastPathComponent
            while !parent.isEmpty {
                if let existing = all[parent] {
                    guard existing.isDirectory else {
                        throw CpioError.conflict(path: "/" + parent, existing: existing.kind.summary,
                                                 new: "the parent directory of /\(path)")
                    }
                } else {
                    all[parent] = .directory(parent)
                }
                parent = (parent as NSString).deletingLastPathComponent
            }
        }
        // Byte order, not locale order: the same on every host.
        return all.values.sorted { Array($0.path.utf8).lexicographicallyPrecedes(Array($1.path.utf8)) }
    }

    /// The archive: members, the TRAILER!!! record, and zeros up to a 512-byte multiple
    /// (as GNU cpio writes it), so archives can be concatenated.
    public func bytes() throws -> Data {
        var out = Data()
        for (index, member) in try members().enumerated() {
            Self.appendRecord(to: &out, name: member.path, inode: UInt32(index + 1), mode: member.mode,
                              links: member.isDirectory ? 2 : 1, body: member.body, device: member.kind.device)
        }
        Self.appendRecord(to: &out, name: "TRAILER!!!", inode: 0, mode: 0, links: 1, body: Data(), device: (0, 0))
        out.append(Data(count: (512 - out.count % 512) % 512))
        return out
    }

    public func write(to path: String) throws {
        try Files.write(try bytes(), to: path)
    }

    private static func appendRecord(to out: inout Data, name: String, inode: UInt32, mode: UInt32, links: UInt32,
                                     body: Data, device: (UInt32, UInt32)) {
        let nameBytes = Data(name.utf8) + [0]
        let fields: [UInt32] = [
            inode, mode, 0, 0, links, 0, UInt32(body.count),
            0, 0,                 // devmajor, devminor: the device holding the file; unused
            device.0, device.1,   // rdevmajor, rdevminor: what a device node points at
            UInt32(nameBytes.count), 0,
        ]
        var header = "070701"
        for field in fields {
            let hex = String(field, radix: 16, uppercase: true)
            header += String(repeating: "0", count: 8 - hex.count) + hex
        }
        out.append(Data(header.utf8))
        out.append(nameBytes)
        out.append(Data(count: (4 - (110 + nameBytes.count) % 4) % 4))
        out.append(body)
        out.append(Data(count: (4 - body.count % 4) % 4))
    }

    /// "/bin/sh" and "bin/sh" are the same member; "..", empty components and the
    /// root itself are refused (the kernel would resolve them against its rootfs).
    static func normalize(_ path: String) throws -> String {
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        guard !components.isEmpty, !components.contains(where: { $0 == ".." || $0 == "." }),
              !path.contains("\0") else {
            throw CpioError.badPath(path)
        }
        return components.joined(separator: "/")
    }
}

extension CpioEntry.Kind {
    var summary: String {
        switch self {
        case .directory: return "a directory"
        case let .file(data): return "a file of \(data.count) bytes"
        case let .symlink(target): return "a symlink to \(target)"
        case let .characterDevice(major, minor): return "a character device \(major):\(minor)"
        }
    }

    var device: (UInt32, UInt32) {
        if case let .characterDevice(major, minor) = self { return (major, minor) }
        return (0, 0)
    }
}

/// Why a cpio archive could not be put together.
public enum CpioError: RigError, Equatable {
    /// The rig or the host failed: exit 3.
    public var exitStatus: ExitStatus { .infrastructure }

    /// Two different members were given the same path (check the recipe for a tool,
    /// file or link that lands where another one already is).
    case conflict(path: String, existing: String, new: String)
    /// A member path that is empty, the root, or contains "." or "..".
    case badPath(String)

    public var description: String {
        switch self {
        case let .conflict(path, existing, new):
            return "\(path) is \(existing) and also \(new): give one of them another target path"
        case let .badPath(path):
            return "'\(path)' cannot be an archive member: use an absolute path without '.' or '..' components"
        }
    }
}
