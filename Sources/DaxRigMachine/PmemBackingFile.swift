import DaxRigSupport
import Foundation

/// Sparse backing files for emulated nvdimms.
public enum PmemBackingFile {
    /// The nvdimm for files of up to `largestFile` bytes: that plus 1 GiB of room for
    /// the file system, in whole GiB, 2 GiB at least.
    public static func size(forLargestFile largestFile: UInt64) -> UInt64 {
        let gib: UInt64 = 1 << 30
        return max(2 * gib, (largestFile + gib + gib - 1) / gib * gib)
    }

    /// Creates `path` as a sparse file of `size` bytes (ftruncate: no blocks allocated).
    public static func create(path: String, size: UInt64) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileError.unwritable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(size)) == 0 else { throw FileError.unwritable(path: path, reason: String(cString: strerror(errno))) }
    }
}

extension GuestRunner {
    /// A pmem backing for more than one boot (a persistence check's two): a sparse file
    /// `pmem0.img` in `directory` here, or a sparse volume in daxrig's pool on the
    /// runner's host (`BootPolicy.host`), whose boots then find it there. Returns its
    /// path where the boots see it, and what removes it (the caller's, Ctrl-C too).
    public func persistentPmem(size: UInt64, in directory: URL) throws -> (path: String, remove: @Sendable () -> Void) {
        guard let uri = policy.host else {
            let path = directory.appendingPathComponent("pmem0.img").path
            try PmemBackingFile.create(path: path, size: size)
            return (path, { Files.remove(path) })
        }
        let pool = try LibvirtConnection(uri: uri).daxrigPool()
        // A run volume of no domain: swept like a dead boot's once stale.
        let name = LibvirtPool.runVolume("daxrig-\(getpid())-persist\(UInt32.random(in: .min ... .max))", "pmem0")
        let volume = try pool.createSparse(name, bytes: size)
        return (volume.path, { try? pool.delete(name) })
    }
}
