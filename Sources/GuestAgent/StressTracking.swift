import DaxRigProtocol
import Glibc
import GuestCore
import Synchronization

/// The ops that exercise what the kernel tracks per page table entry on behalf of one
/// process: its soft-dirty bits (clear_refs, pagemap) and writeback's write-protection
/// (msync). A PMD table shared between processes shares those bits, so whatever one
/// process does to them, every other sharer sees.
extension StressProcess {
    /// Handshake states of the soft-dirty child.
    private static let started: UInt64 = 0, written: UInt64 = 1, cleared: UInt64 = 2

    /// Review finding 4. A child (which faults the scratch stripe in itself, joining the
    /// parent's PMD table where the kernel shares one) clears its own soft-dirty bits,
    /// writes a word of the stripe, and reads that page's pagemap entry: bit 55 must be
    /// set. The parent then clears its own bits, and the child reads the entry again:
    /// still set, because nothing cleared the child's. A kernel that let the child join
    /// the parent's table lets the parent's clear_refs erase the child's record of a
    /// write, which a checkpoint (CRIU's pre-dump) would then miss.
    mutating func clearRefsUnderSharer() {
        guard let scratch, let base else { return }
        guard SoftDirty.isTracked else { return failed(.softDirty, value: EOPNOTSUPP) }
        nextScratchGeneration()
        guard let page = sharedPage() else { return failed(.mmap) }
        defer { munmap(page, 4096) }
        let state = page.assumingMemoryBound(to: Atomic<UInt64>.self)
        state.pointee.store(Self.started, ordering: .sequentiallyConsistent)
        let target = address(of: scratch, in: base) + Self.readerOffset
        let pid = fork()
        if pid < 0 { return failed(.fork) }
        if pid == 0 {
            armWatchdog()
            guard SoftDirty.clearOwnBits() else { _exit(10) }
            // The same value stored again: the data stays as checked, the entry is written.
            let word = target.assumingMemoryBound(to: Atomic<UInt64>.self)
            word.pointee.store(word.pointee.load(ordering: .relaxed), ordering: .relaxed)
            guard let own = SoftDirty.bit(of: target) else { _exit(11) }
            (page + 8).storeBytes(of: own ? 1 : 0, as: UInt64.self)
            state.pointee.store(Self.written, ordering: .sequentiallyConsistent)
            while state.pointee.load(ordering: .sequentiallyConsistent) != Self.cleared { sched_yield() }
            guard let after = SoftDirty.bit(of: target) else { _exit(11) }
            (page + 16).storeBytes(of: after ? 1 : 0, as: UInt64.self)
            _exit(0)
        }
        var status: Int32 = 0
        while state.pointee.load(ordering: .sequentiallyConsistent) != Self.written {
            if waitpid(pid, &status, WNOHANG) == pid { return failed(.softDirtyChild, value: status) }
            sched_yield()
        }
        let cleared = SoftDirty.clearOwnBits()
        state.pointee.store(Self.cleared, ordering: .sequentiallyConsistent)
        var reaped: pid_t
        repeat { reaped = waitpid(pid, &status, 0) } while reaped < 0 && errno == EINTR
        if !cleared { failed(.clearRefs) }
        if reaped < 0 { return failed(.waitpid) }
        guard Termination(waitStatus: status) == .exited(0) else { return failed(.softDirtyChild, value: status) }
        let word = Self.readerOffset / 8
        noteChecked(stripe: scratch, word: word, expected: 1, found: (page + 8).load(as: UInt64.self), phase: .softDirtyOwn)
        noteChecked(stripe: scratch, word: word, expected: 1, found: (page + 16).load(as: UInt64.self), phase: .softDirty)
        rewriteOwn()
    }

    /// msync(MS_SYNC) of this iteration's stripes while the sharers write theirs: DAX
    /// writeback write-protects the entries of every mapping of each dirty page
    /// (dax_entry_mkclean), so each sharer's next store must fault and dirty it again;
    /// then the stripes are checked as after any op.
    mutating func syncWhileSharersWrite() {
        guard let span = nextSpan() else { return }
        guard msync(span.at, span.length, MS_SYNC) == 0 else { return failed(.msync) }
        settle(span.range)
    }
}

/// /proc/self/clear_refs and /proc/self/pagemap, for the soft-dirty op.
enum SoftDirty {
    /// PM_SOFT_DIRTY (Documentation/admin-guide/mm/pagemap.rst).
    static let pagemapBit: UInt64 = 1 << 55

    /// A new vma starts soft-dirty (VM_SOFTDIRTY) on a kernel that tracks it, so a fresh
    /// anonymous page reads with bit 55 set there and clear everywhere else.
    static let isTracked: Bool = {
        guard let page = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), page != MAP_FAILED else { return false }
        defer { munmap(page, 4096) }
        page.storeBytes(of: 1, as: UInt64.self)
        return bit(of: page) == true
    }()

    /// Clears this process's soft-dirty bits ("4": CLEAR_REFS_SOFT_DIRTY), which also
    /// write-protects its entries so the next write faults and sets the bit again.
    static func clearOwnBits() -> Bool {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "4", 1) == 1
    }

    /// Bit 55 of this process's pagemap entry for the page at `address`; nil if unreadable.
    static func bit(of address: UnsafeMutableRawPointer) -> Bool? {
        let fd = open("/proc/self/pagemap", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var entry: UInt64 = 0
        let offset = off_t(UInt(bitPattern: address) / 4096 * 8)
        guard pread(fd, &entry, 8, offset) == 8 else { return nil }
        return entry & pagemapBit != 0
    }
}
