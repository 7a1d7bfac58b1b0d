import Glibc

/// The few C calls Swift's Glibc module does not import: it is built without
/// _GNU_SOURCE, so <sys/reboot.h>, statx(2), fallocate(2) and mremap(2) are invisible.
/// All are plain glibc functions with integer and pointer arguments, which the Swift
/// calling convention passes exactly as C does on x86_64 and arm64.
enum SystemCalls {
    @_silgen_name("reboot")
    private static func c_reboot(_ command: Int32) -> Int32

    @_silgen_name("statx")
    private static func c_statx(_ dirfd: Int32, _ path: UnsafePointer<CChar>, _ flags: Int32,
                                _ mask: UInt32, _ buffer: UnsafeMutableRawPointer) -> Int32

    @_silgen_name("fallocate")
    private static func c_fallocate(_ fd: Int32, _ mode: Int32, _ offset: Int64, _ length: Int64) -> Int32

    /// Allocates the file's blocks up front, so DAX faults find extents to map with PMDs.
    static func fallocate(_ fd: Int32, length: Int64) -> Int32 { c_fallocate(fd, 0, 0, length) }

    /// fallocate(2) with a mode: 0 allocates, punchHole | keepSize frees the blocks.
    static func fallocate(_ fd: Int32, mode: Int32, offset: Int64, length: Int64) -> Int32 { c_fallocate(fd, mode, offset, length) }

    /// FALLOC_FL_KEEP_SIZE and FALLOC_FL_PUNCH_HOLE (include/uapi/linux/falloc.h).
    static let keepSize: Int32 = 0x01
    static let punchHole: Int32 = 0x02

    /// mremap is variadic in C (the new address comes only with MREMAP_FIXED), which Swift
    /// cannot import; glibc reads that fifth argument from the register a fixed-argument
    /// call puts it in on x86_64 and arm64 Linux.
    @_silgen_name("mremap")
    private static func c_mremap(_ old: UnsafeMutableRawPointer?, _ oldLength: Int, _ newLength: Int, _ flags: Int32,
                                 _ new: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?

    /// Moves `length` bytes mapped at `old` to exactly `new` (MREMAP_MAYMOVE | MREMAP_FIXED).
    static func mremap(_ old: UnsafeMutableRawPointer, length: Int, to new: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
        let mayMove: Int32 = 1, fixed: Int32 = 2
        let moved = c_mremap(old, length, length, mayMove | fixed, new)
        return moved == MAP_FAILED ? nil : moved
    }

    @_silgen_name("vmsplice")
    private static func c_vmsplice(_ fd: Int32, _ iov: UnsafePointer<iovec>, _ count: Int, _ flags: UInt32) -> Int

    /// vmsplice(2) of one range into the pipe `fd`: the kernel takes the pages with
    /// get_user_pages_fast and the pipe holds them until read. Bytes taken, or -1.
    static func vmsplice(_ fd: Int32, _ address: UnsafeMutableRawPointer, length: Int) -> Int {
        var vector = iovec(iov_base: address, iov_len: length)
        return c_vmsplice(fd, &vector, 1, 0)
    }

    /// O_DIRECT, which Glibc's module leaves out (it is _GNU_SOURCE).
    #if arch(x86_64)
    static let directIO: Int32 = 0o40000
    #else
    static let directIO: Int32 = 0o200000
    #endif

    /// Reads or writes `length` bytes at `address` of this process's memory through
    /// /proc/self/mem, which reaches it by get_user_pages_remote (FOLL_FORCE, and
    /// FOLL_WRITE to write): the page-table walk a debugger's peek and poke take.
    static func procSelfMem(read: Bool, _ buffer: UnsafeMutableRawPointer, length: Int, at address: UnsafeMutableRawPointer) -> Bool {
        let fd = open("/proc/self/mem", read ? O_RDONLY : O_RDWR)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var done = 0
        while done < length {
            let offset = off_t(Int(bitPattern: UInt(bitPattern: address)) + done)
            let n = read ? pread(fd, buffer + done, length - done, offset) : pwrite(fd, buffer + done, length - done, offset)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }

    /// mmap flags Glibc's module leaves out: MAP_SHARED_VALIDATE (0x03, refuses flags it
    /// does not know), MAP_SYNC and MAP_FIXED_NOREPLACE (include/uapi/asm-generic/mman*.h).
    static let mapSharedValidate: Int32 = 0x03
    static let mapSync: Int32 = 0x80000
    static let mapFixedNoReplace: Int32 = 0x100000

    /// MADV_COLD and MADV_PAGEOUT (include/uapi/asm-generic/mman-common.h, Linux 5.4).
    static let madvCold: Int32 = 20
    static let madvPageout: Int32 = 21

    /// LINUX_REBOOT_CMD_POWER_OFF (RB_POWER_OFF) and LINUX_REBOOT_CMD_HALT (RB_HALT_SYSTEM).
    static let powerOffCommand: Int32 = 0x4321_FEDC
    static let haltCommand: Int32 = Int32(bitPattern: 0xCDEF_0123)

    /// Only returns if the kernel refused.
    static func reboot(_ command: Int32) -> Int32 { c_reboot(command) }

    /// STATX_ATTR_DAX: the file is accessed through DAX right now (not just flagged for it).
    static let attributeDAX: UInt64 = 0x0020_0000

    struct StatxAttributes {
        /// stx_attributes: which attributes the file has.
        var attributes: UInt64
        /// stx_attributes_mask: which attributes this file system reports at all.
        var supported: UInt64
    }

    /// statx(2) for the attribute words only. struct statx is 256 bytes; stx_attributes
    /// sits at offset 8 and stx_attributes_mask at 56 (include/uapi/linux/stat.h).
    static func statxAttributes(_ path: String) throws -> StatxAttributes {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: 256)
        let basicStats: UInt32 = 0x07FF
        let result = path.withCString { c_statx(AT_FDCWD, $0, 0, basicStats, buffer) }
        guard result == 0 else { throw AgentFailure("pmem", "statx \(path): \(errnoText())") }
        return StatxAttributes(attributes: buffer.load(fromByteOffset: 8, as: UInt64.self),
                               supported: buffer.load(fromByteOffset: 56, as: UInt64.self))
    }
}
