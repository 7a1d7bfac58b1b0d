import Foundation

extension Files {
    /// Copies `source` to `destination` (made anew, mode 0600) as a sparse file: only
    /// the source's data segments (SEEK_DATA/SEEK_HOLE) are read, and a block of zeros
    /// among them is left a hole too. A pmem backing file is GiBs long and holds tens of
    /// MiB, so a plain copy would write GiBs of zeros onto the host's disk.
    public static func copySparse(from source: String, to destination: String) throws {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw FileError.unreadable(path: source, reason: String(cString: strerror(errno))) }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard output >= 0 else { throw FileError.unwritable(path: destination, reason: String(cString: strerror(errno))) }
        defer { close(output) }
        var status = stat()
        guard fstat(input, &status) == 0 else { throw FileError.unreadable(path: source, reason: String(cString: strerror(errno))) }
        let length = off_t(status.st_size)
        let block = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: block, alignment: 4096)
        defer { buffer.deallocate() }
        let zeros = UnsafeMutableRawPointer.allocate(byteCount: block, alignment: 4096)
        defer { zeros.deallocate() }
        memset(zeros, 0, block)
        // <unistd.h> behind _GNU_SOURCE, which Swift's Glibc does not define.
        let seekData: Int32 = 3, seekHole: Int32 = 4
        var offset: off_t = 0
        while offset < length {
            let data = lseek(input, offset, seekData)
            if data < 0 { break }  // ENXIO: nothing but a hole from here
            let found = lseek(input, data, seekHole)
            let hole = found < data ? length : min(found, length)
            var at = data
            while at < hole {
                let count = pread(input, buffer, min(block, Int(hole - at)), at)
                guard count > 0 else { throw FileError.unreadable(path: source, reason: count < 0 ? String(cString: strerror(errno)) : "ends early") }
                if memcmp(buffer, zeros, count) != 0 {
                    var written = 0
                    while written < count {
                        let result = pwrite(output, buffer + written, count - written, at + off_t(written))
                        guard result > 0 else { throw FileError.unwritable(path: destination, reason: String(cString: strerror(errno))) }
                        written += result
                    }
                }
                at += off_t(count)
            }
            offset = max(hole, data + 1)
        }
        guard ftruncate(output, length) == 0 else { throw FileError.unwritable(path: destination, reason: String(cString: strerror(errno))) }
    }
}
