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
