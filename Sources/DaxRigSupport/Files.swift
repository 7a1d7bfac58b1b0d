import Foundation

/// The few file operations every stage needs, with errors that name the path.
public enum Files {
    public static func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }

    public static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    public static func read(_ path: String) throws -> String {
        do { return try String(contentsOfFile: path, encoding: .utf8) }
        catch { throw FileError.unreadable(path: path, reason: error.localizedDescription) }
    }

    /// `path`'s bytes as text, any byte that is not UTF-8 replaced; nil when it cannot
    /// be read. For what a guest wrote (a console): one stray byte must neither make the
    /// whole file unreadable nor hide the lines around it.
    public static func readLossy(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    public static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }

    /// Writes to a temporary sibling and renames, so a reader never sees half a file.
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        do { try data.write(to: url, options: .atomic) }
        catch { throw FileError.unwritable(path: path, reason: error.localizedDescription) }
    }

    /// Writes `parts` one after another to `path`, created or truncated in place: for a
    /// file no other process reads while it is written (a boot's own initrd). A mapped
    /// part goes from its mapping to the file, never gathered into one buffer first.
    public static func write(_ parts: [Data], to path: String) throws {
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError.unwritable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        for part in parts where !part.isEmpty {
            try part.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
                var done = 0
                while done < buffer.count {
                    let count = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { throw FileError.unwritable(path: path, reason: String(cString: strerror(errno))) }
                    done += count
                }
            }
        }
    }

    public static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Removes a directory something may still be writing into (a QEMU being torn down
    /// beside a Ctrl-C): a file created during the removal makes its rmdir fail, so
    /// try again for up to a second.
    public static func removeDirectory(_ path: String) {
        for _ in 0..<10 {
            remove(path)
            guard exists(path) else { return }
            usleep(100_000)
        }
    }

    /// A fresh directory under `parent`, named uniquely; the caller removes it.
    public static func temporaryDirectory(in parent: URL, prefix: String) throws -> URL {
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        let url = parent.appendingPathComponent("\(prefix)\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    public static func size(_ path: String) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
    }
}

/// A file daxrig needed could not be read or written.
public enum FileError: RigError, Equatable {
    /// What the user can fix: exit 2.
    public var exitStatus: ExitStatus { .badInput }

    case unreadable(path: String, reason: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "cannot read \(path): \(reason)"
        case let .unwritable(path, reason): return "cannot write \(path): \(reason)"
        }
    }
}
