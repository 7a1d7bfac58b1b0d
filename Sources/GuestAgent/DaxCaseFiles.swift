import Glibc

/// A file of the DAX cases: made at its full size (allocated, so writes through a
/// mapping need no block allocation and can be PMDs on a 2 MiB-aligned file system),
/// and mapped at a 2 MiB-aligned address.
struct DaxFile {
    let path: String
    let fd: Int32
    let size: Int

    init(_ path: String, size: Int) throws {
        self.path = path
        self.size = size
        unlink(path)
        fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw AgentFailure("open \(path)", errnoText()) }
        guard SystemCalls.fallocate(fd, length: Int64(size)) == 0 else { throw AgentFailure("fallocate \(path)", errnoText()) }
    }

    /// Mapped at an `alignment` boundary (a PMD's by default): a reservation that much
    /// larger, the file over its aligned part.
    func map(_ protection: Int32, flags: Int32 = MAP_SHARED, alignment: Int = 2 << 20) throws -> UnsafeMutableRawPointer {
        let huge = alignment
        guard let reserved = mmap(nil, size + huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), reserved != MAP_FAILED else {
            throw AgentFailure("mmap reserve", errnoText())
        }
        let address = (Int(bitPattern: reserved) + huge - 1) & ~(huge - 1)
        guard let mapped = mmap(UnsafeMutableRawPointer(bitPattern: address), size, protection, flags | MAP_FIXED, fd, 0), mapped != MAP_FAILED else {
            let code = errno
            munmap(reserved, size + huge)
            throw AgentFailure("mmap \(path)", errnoText(code))
        }
        // What the file does not cover goes back.
        let head = address - Int(bitPattern: reserved)
        if head > 0 { munmap(reserved, head) }
        let tail = huge - head
        if tail > 0 { munmap(mapped + size, tail) }
        return mapped
    }

    func writePattern(seed: UInt64) throws {
        var buffer = [UInt8](repeating: 0, count: size)
        buffer.withUnsafeMutableBytes { fill($0.baseAddress!, 0, size, seed: seed) }
        let put = buffer.withUnsafeBytes { pwrite(fd, $0.baseAddress, size, 0) }
        guard put == size, fsync(fd) == 0 else { throw AgentFailure("pwrite \(path)", errnoText()) }
    }

    /// The first word that differs, read back through pread (not through any mapping).
    func checkPattern(seed: UInt64) throws -> String? {
        var buffer = [UInt8](repeating: 0, count: size)
        let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, size, 0) }
        guard got == size else { throw AgentFailure("pread \(path)", got < 0 ? errnoText() : "\(got) of \(size) bytes") }
        return buffer.withUnsafeMutableBytes { check($0.baseAddress!, 0, size, seed: seed) }.map { "\(path) through pread: \($0)" }
    }
}

/// A case that cannot say anything here (the file system does not give what it checks).
struct DaxSkip: Error {
    var reason: String
}

/// Words that say where they are and who wrote them: offset / 8 mixed with the seed.
func word(_ offset: Int, seed: UInt64) -> UInt64 { (UInt64(offset) &* 0x9E37_79B9_7F4A_7C15) ^ (seed &* 0xD6E8_FEB8_6659_FD93) }

func fill(_ base: UnsafeMutableRawPointer, _ from: Int, _ length: Int, seed: UInt64) {
    for offset in stride(from: from, to: from + length, by: 8) { base.storeBytes(of: word(offset, seed: seed), toByteOffset: offset, as: UInt64.self) }
}

/// The first wrong word, as text; nil when all are right.
func check(_ base: UnsafeMutableRawPointer, _ from: Int, _ length: Int, seed: UInt64) -> String? {
    for offset in stride(from: from, to: from + length, by: 8) {
        let found = base.load(fromByteOffset: offset, as: UInt64.self)
        if found != word(offset, seed: seed) {
            return "offset \(offset): \(String(found, radix: 16)), expected \(String(word(offset, seed: seed), radix: 16))"
        }
    }
    return nil
}

/// Bytes of page tables (VmPTE, which counts PMD and PUD tables too) the process gained
/// while `body` ran.
func vmPTEGrowth(_ body: () -> Void) throws -> Int {
    _ = Counters.vmPTE()  // makes and faults in the reading's buffer outside the window
    let before = Counters.vmPTE()
    body()
    return Int(Counters.vmPTE()) - Int(before)
}
