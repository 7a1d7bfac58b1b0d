import DaxRigSupport
import Foundation

/// QEMU writes a kdump-compressed dump to libvirt's pipe in makedumpfile's "flattened"
/// form, which it can write without seeking: a 4096-byte header ("makedumpfile", type
/// and version, big-endian), then records of (offset, size, bytes), ended by (-1, -1).
/// crash and makedumpfile's own readers want the file itself, with each record's bytes
/// at its offset: this puts them there (what `makedumpfile -R` does).
enum FlattenedDump {
    /// "makedumpfile", NUL-padded to 16 bytes, then type 1 and version 1 (big-endian).
    static let signature = Data("makedumpfile".utf8) + Data(count: 4)
    static let headerBytes = 4096
    /// QEMU's records are a page or a compressed page; a record claiming more is garbage.
    static let largestRecord: Int64 = 64 << 20
    /// What a kdump-compressed file, the one crash and drgn read, begins with.
    static let kdumpSignature = Data("KDUMP   ".utf8)

    enum Failure: Error, CustomStringConvertible {
        case notFlattened(String), truncated(String, at: UInt64), badRecord(String, offset: Int64, size: Int64), notKdump(String)

        var description: String {
            switch self {
            case let .notFlattened(path): "\(path) is not a flattened dump (no makedumpfile header)"
            case let .truncated(path, at): "\(path) ends inside a record at byte \(at)"
            case let .badRecord(path, offset, size): "\(path) has a record at offset \(offset) of \(size) bytes"
            case let .notKdump(path): "\(path) is not a kdump-compressed dump (no KDUMP signature at its start)"
            }
        }
    }

    /// Whether `path` starts with the flattened header, type 1, version 1.
    static func isFlattened(_ path: String) -> Bool {
        starts(path, with: signature + bigEndianBytes(1) + bigEndianBytes(1))
    }

    static func starts(_ path: String, with prefix: Data) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: prefix.count)) == prefix
    }

    /// `written` (QEMU's output, flattened or not) as the kdump file `vmcore`; refused,
    /// and nothing left at `vmcore`, unless the result is a kdump-compressed dump.
    static func keep(_ written: String, as vmcore: String) throws {
        if isFlattened(written) {
            try reassemble(written, to: vmcore)
            Files.remove(written)
        } else {
            try FileManager.default.moveItem(atPath: written, toPath: vmcore)
        }
        guard starts(vmcore, with: kdumpSignature) else {
            Files.remove(vmcore)
            throw Failure.notKdump(written)
        }
    }

    /// Writes the dump `flat` holds to `output`, record by record.
    static func reassemble(_ flat: String, to output: String) throws {
        guard isFlattened(flat), let input = FileHandle(forReadingAtPath: flat) else { throw Failure.notFlattened(flat) }
        defer { try? input.close() }
        guard FileManager.default.createFile(atPath: output, contents: nil, attributes: [.posixPermissions: 0o600]),
              let out = FileHandle(forWritingAtPath: output) else {
            throw FileError.unwritable(path: output, reason: "cannot create it")
        }
        defer { try? out.close() }
        var position = UInt64(headerBytes)
        try input.seek(toOffset: position)
        while true {
            guard let header = try input.read(upToCount: 16), header.count == 16 else { throw Failure.truncated(flat, at: position) }
            let offset = Self.bigEndian(header.prefix(8)), size = Self.bigEndian(header.suffix(8))
            position += 16
            if offset == -1 && size == -1 { return }
            guard offset >= 0, size >= 0, size <= largestRecord else { throw Failure.badRecord(flat, offset: offset, size: size) }
            guard let bytes = try input.read(upToCount: Int(size)), bytes.count == Int(size) else { throw Failure.truncated(flat, at: position) }
            try out.seek(toOffset: UInt64(offset))
            try out.write(contentsOf: bytes)
            position += UInt64(size)
        }
    }

    static func bigEndianBytes(_ value: Int64) -> Data {
        Data((0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(bitPattern: value) >> (8 * UInt64($0))) })
    }

    static func bigEndian(_ bytes: Data) -> Int64 {
        Int64(bitPattern: bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }
}

extension GuestRunner {
    /// The halted guest's memory as `vmcore` in the run directory (`dumpOnCrash`). A dump
    /// that fails leaves no file and says why; the boot's verdict stands either way.
    /// On another host (`remote`) QEMU writes the dump there, into daxrig's pool, and
    /// it comes down to the run directory as the console log does.
    func keepVmcore(of domain: LibvirtDomain, in directory: URL, remote: RemoteBoot? = nil) {
        let started = Date()
        let vmcore = directory.appendingPathComponent(BootResult.vmcoreName).path
        let written = vmcore + ".qemu"
        progress.phase("dump", "the crashed guest's memory to \(vmcore) (kdump-compressed)")
        do {
            if let remote { try remote.dumpMemory(of: domain, to: written) } else { try domain.dumpMemory(to: written) }
            try FlattenedDump.keep(written, as: vmcore)
            progress.phase("dump", String(format: "%.1f MiB in %.1f s", Double(Files.size(vmcore)) / 1_048_576, Date().timeIntervalSince(started)))
        } catch {
            Files.remove(written)
            Files.remove(vmcore)
            progress.phase("dump", "no vmcore: \(error)")
        }
    }
}
