import Glibc

/// Where a file's blocks lie on the device (FS_IOC_FIEMAP), reduced to the question
/// DAX asks at each PMD fault: is this 2 MiB region of the file one physically
/// contiguous, 2 MiB-aligned run of pmem? Where it is not, the fault falls back to
/// PTEs whatever the kernel would like to do, so the workload says so up front.
struct ExtentMap {
    struct Extent: Equatable {
        var logical: UInt64
        var physical: UInt64
        var length: UInt64
    }

    var extents: [Extent]

    /// FS_IOC_FIEMAP = _IOWR('f', 11, struct fiemap); struct fiemap is 32 bytes and each
    /// struct fiemap_extent 56 (include/uapi/linux/fiemap.h).
    static let request: UInt = 0xC020_660B
    static let headerBytes = 32, extentBytes = 56, batch = 1024
    static let flagSync: UInt32 = 1, extentLast: UInt32 = 1

    /// Reads the file's extents; nil when the file system has no FIEMAP.
    static func read(fd: Int32, length: UInt64) -> ExtentMap? {
        let bytes = headerBytes + batch * extentBytes
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 8)
        defer { buffer.deallocate() }
        var extents: [Extent] = []
        var start: UInt64 = 0
        while start < length {
            buffer.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            buffer.storeBytes(of: start, toByteOffset: 0, as: UInt64.self)
            buffer.storeBytes(of: length - start, toByteOffset: 8, as: UInt64.self)
            buffer.storeBytes(of: flagSync, toByteOffset: 16, as: UInt32.self)
            buffer.storeBytes(of: UInt32(batch), toByteOffset: 24, as: UInt32.self)
            guard ioctl(fd, request, buffer) == 0 else { return nil }
            let mapped = Int(buffer.load(fromByteOffset: 20, as: UInt32.self))
            if mapped == 0 { break }
            var last = false
            for index in 0..<mapped {
                let at = headerBytes + index * extentBytes
                let extent = Extent(logical: buffer.load(fromByteOffset: at, as: UInt64.self),
                                    physical: buffer.load(fromByteOffset: at + 8, as: UInt64.self),
                                    length: buffer.load(fromByteOffset: at + 16, as: UInt64.self))
                extents.append(extent)
                last = buffer.load(fromByteOffset: at + 40, as: UInt32.self) & extentLast != 0
                start = extent.logical + extent.length
            }
            if last { break }
        }
        return ExtentMap(extents: extents)
    }

    /// 2 MiB regions of [0, length) that lie in one extent at a 2 MiB-aligned
    /// physical address, and the number of regions in all.
    func alignedRegions(length: UInt64) -> (aligned: UInt64, regions: UInt64) {
        let region: UInt64 = 2 << 20
        var aligned: UInt64 = 0
        var index = 0
        var offset: UInt64 = 0
        while offset + region <= length {
            while index < extents.count, extents[index].logical + extents[index].length <= offset { index += 1 }
            if index < extents.count {
                let extent = extents[index]
                if extent.logical <= offset, offset + region <= extent.logical + extent.length,
                   (extent.physical + (offset - extent.logical)) % region == 0 {
                    aligned += 1
                }
            }
            offset += region
        }
        return (aligned, length / region)
    }
}
