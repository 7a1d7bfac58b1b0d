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

    /// The extents with physically contiguous neighbours joined: a file system may split
    /// one run of blocks in two (written and unwritten halves), and DAX maps the run.
    var runs: [Extent] {
        var joined: [Extent] = []
        for extent in extents {
            if let last = joined.last, last.logical + last.length == extent.logical, last.physical + last.length == extent.physical {
                joined[joined.count - 1].length += extent.length
            } else {
                joined.append(extent)
            }
        }
        return joined
    }

    /// For each whole 2 MiB region of [0, length): does it lie in one run of blocks at a
    /// 2 MiB-aligned physical address, so a PMD can map it?
    func regionAlignment(length: UInt64) -> [Bool] {
        let region: UInt64 = 2 << 20
        let runs = runs
        var index = 0
        return stride(from: 0, to: length / region * region, by: Int(region)).map { start in
            let offset = UInt64(start)
            while index < runs.count, runs[index].logical + runs[index].length <= offset { index += 1 }
            guard index < runs.count else { return false }
            let run = runs[index]
            return run.logical <= offset && offset + region <= run.logical + run.length
                && (run.physical + (offset - run.logical)) % region == 0
        }
    }

    /// 2 MiB regions of [0, length) a PMD can map, and the number of regions in all.
    func alignedRegions(length: UInt64) -> (aligned: UInt64, regions: UInt64) {
        let regions = regionAlignment(length: length)
        return (UInt64(regions.filter { $0 }.count), UInt64(regions.count))
    }

    /// The runs as `logical->physical+length` in KiB, for a message a developer reads.
    var summary: String {
        runs.map { "\($0.logical >> 10)K->\($0.physical >> 10)K+\($0.length >> 10)K" }.joined(separator: " ")
    }
}
