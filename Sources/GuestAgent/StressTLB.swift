import DaxRigProtocol
import Glibc
import GuestCore
import Synchronization

/// The TLB-visibility ops. A process whose TLB still maps what another process just
/// took away reads it with no fault, and no check that makes a system call first can
/// see that: the call itself may switch or flush. So the reader is a child that faults
/// one word of the scratch stripe in through the inherited mapping (joining the
/// parent's PMD table where the kernel shares one) and then spins on it, loads only,
/// while the parent changes the mapping or the file. The handshake goes through a shared
/// anonymous page: the child says it has read, the parent says the change is complete
/// (its system calls have returned). Under TCG a vCPU keeps a translation until the
/// guest flushes it, so a missing flush shows every time rather than by chance; it
/// needs the child on a vCPU of its own (2 vCPUs, few other processes).
extension StressProcess {
    /// The word the reader spins on: 64 KiB into the scratch stripe.
    static let readerOffset = 64 << 10

    /// Handshake states.
    private static let started: UInt64 = 0, loaded: UInt64 = 1, changed: UInt64 = 2

    /// Drops every region of its mapping but the scratch stripe, forks the reader,
    /// waits until it has read, then (with `split`, after making one
    /// 4 KiB page inside the stripe read-only, which splits the stripe's huge PMD at two
    /// vma edges) punches the scratch stripe out of the file and says so. The reader's
    /// next load must find zeros; the old word means its TLB outlived the punch, and
    /// the blocks it reads may already be another file's.
    mutating func punchUnderReader(split: Bool) {
        guard let scratch, let base else { return }
        nextScratchGeneration()
        let stripe = address(of: scratch, in: base)
        let edge = stripe + Self.readerOffset + (1 << 20)
        var punched: Int32 = -1
        guard let (found, status) = underReader(scratch, change: { process in
            if split, mprotect(edge, 4096, PROT_READ) != 0 { process.failed(.mprotect) }
            punched = SystemCalls.fallocate(process.fd, mode: SystemCalls.punchHole | SystemCalls.keepSize,
                                            offset: process.fileOffset(of: scratch), length: Int64(Self.stripeBytes))
            if punched != 0 { process.failed(.fallocate) }
        }) else { return }
        switch Termination(waitStatus: status) {
        case .exited(0)?, .exited(3)?, .exited(4)?:
            // Anything but zeros came through a translation the punch should have removed.
            noteChecked(stripe: scratch, word: Self.readerOffset / 8, expected: 0, found: found, phase: .tlbReader)
        default: failed(.tlbReader, value: status)
        }
        if split, mprotect(edge, 4096, PROT_READ | PROT_WRITE) != 0 { return lost(.mprotect) }
        if punched == 0 { refill(scratch) }
    }

    /// The same reader on the file's last stripe while this process truncates the file
    /// short of it: once the truncate has returned, the reader's next load is beyond the
    /// end of the file and must raise SIGBUS. A load that returns (the old word, most
    /// likely) came through a translation the truncate should have removed.
    mutating func truncateUnderReader() {
        guard let scratch, base != nil else { return }
        nextScratchGeneration()
        var cut = false
        guard let (found, status) = underReader(scratch, change: { process in
            cut = ftruncate(process.fd, off_t(process.fileOffset(of: scratch))) == 0
            if !cut { process.failed(.ftruncate) }
        }) else { return }
        switch Termination(waitStatus: status) {
        case .signaled(SIGBUS)? where cut: noteChecked(stripe: scratch, word: Self.readerOffset / 8, expected: 0, found: 0, phase: .tlbTruncate)
        case .exited(0)?, .exited(3)?, .exited(4)?:
            if cut { noteChecked(stripe: scratch, word: Self.readerOffset / 8, expected: 0, found: max(found, 1), phase: .tlbTruncate) }
        default: failed(.tlbReader, value: status)
        }
        guard ftruncate(fd, off_t(spec.mapping.fileBytes)) == 0 else { return lost(.ftruncate) }
        refill(scratch)
    }

    /// Drops every region of the mapping but `stripe`, forks a reader that faults a word
    /// of the stripe in and spins on it, runs `change` once the reader has read, tells
    /// the reader, and reaps it: what its last load read (0 if it never returned) and how
    /// it ended (its wait status). Nil when the reader could not be set up (the failure is counted).
    private mutating func underReader(_ stripe: Int, change: (inout StressProcess) -> Void) -> (found: UInt64, status: Int32)? {
        guard let base else { return nil }
        guard let page = sharedPage() else {
            failed(.mmap)
            return nil
        }
        defer { munmap(page, 4096) }
        let state = page.assumingMemoryBound(to: Atomic<UInt64>.self)
        state.pointee.store(Self.started, ordering: .sequentiallyConsistent)
        let word = (address(of: stripe, in: base) + Self.readerOffset).assumingMemoryBound(to: Atomic<UInt64>.self)
        // Every other region dropped first: x86 flushes a whole TLB when a zap clears more
        // than a few dozen pages, and the file system zaps the whole file in every mapping,
        // so with the rest mapped the reader's stale entry would go by chance. With the
        // stripe the only entry left, only a flush meant for it removes it.
        guard dropAllBut(stripe, from: base) else {
            failed(.madvise)
            return nil
        }
        let pid = fork()
        if pid < 0 {
            failed(.fork)
            return nil
        }
        if pid == 0 {
            signal(SIGBUS, SIG_DFL)  // a load beyond the end of the file ends the reader, whatever the runtime installed
            armWatchdog()
            let before = word.pointee.load(ordering: .relaxed)
            state.pointee.store(Self.loaded, ordering: .sequentiallyConsistent)
            while state.pointee.load(ordering: .sequentiallyConsistent) != Self.changed {
                _ = word.pointee.load(ordering: .relaxed)
            }
            let after = word.pointee.load(ordering: .relaxed)
            (page + 8).storeBytes(of: after, as: UInt64.self)
            _exit(after == 0 ? 0 : after == before ? 3 : 4)
        }
        // Until the reader has read (or died trying).
        var status: Int32 = 0
        while state.pointee.load(ordering: .sequentiallyConsistent) != Self.loaded {
            if waitpid(pid, &status, WNOHANG) == pid {
                failed(.tlbReader, value: status)
                return nil
            }
        }
        change(&self)
        state.pointee.store(Self.changed, ordering: .sequentiallyConsistent)
        var reaped: pid_t
        repeat { reaped = waitpid(pid, &status, 0) } while reaped < 0 && errno == EINTR
        if reaped < 0 {
            failed(.waitpid)
            return nil
        }
        return ((page + 8).load(as: UInt64.self), status)
    }

    /// MADV_DONTNEED on every region of the mapping at `base` but the stripe's.
    private func dropAllBut(_ stripe: Int, from base: UnsafeMutableRawPointer) -> Bool {
        let before = address(of: stripe, in: base) - base, after = Int(spec.bytes) - before - Self.stripeBytes
        return (before == 0 || madvise(base, before, MADV_DONTNEED) == 0)
            && (after == 0 || madvise(base + before + Self.stripeBytes, after, MADV_DONTNEED) == 0)
    }

    func sharedPage() -> UnsafeMutableRawPointer? {
        guard let page = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0), page != MAP_FAILED else { return nil }
        return page
    }

    /// Review finding 3: one process maps the file twice, and a kernel that shares PMD
    /// tables may point both PUD entries at one table. The process maps the whole file
    /// a second time (256 GiB above its mapping), drops every other region (as for the
    /// reader, so no incidental full flush covers a missing one), reads the stripe's word
    /// through the second mapping, MADV_DONTNEEDs the stripe through its first mapping and punches the
    /// stripe out; its next read through the second mapping must find zeros. A zap of a
    /// shared table that flushes every other process but skips the zapping process's
    /// other mappings leaves that read a translation to the freed blocks.
    mutating func punchUnderSecondMapping() {
        guard let scratch, let base else { return }
        nextScratchGeneration()
        let length = Int(spec.bytes)
        let at = UnsafeMutableRawPointer(bitPattern: away)
        guard let second = mmap(at, length, PROT_READ, MAP_SHARED | SystemCalls.mapFixedNoReplace, fd, off_t(mapOffset)), second != MAP_FAILED else {
            return failed(.mmap)
        }
        defer { munmap(second, length) }
        guard dropAllBut(scratch, from: base) else { return failed(.madvise) }
        let word = (address(of: scratch, in: second) + Self.readerOffset).assumingMemoryBound(to: Atomic<UInt64>.self)
        _ = word.pointee.load(ordering: .relaxed)
        let stripe = address(of: scratch, in: base)
        guard madvise(stripe, Self.stripeBytes, MADV_DONTNEED) == 0 else { return failed(.madvise) }
        guard SystemCalls.fallocate(fd, mode: SystemCalls.punchHole | SystemCalls.keepSize,
                                    offset: fileOffset(of: scratch), length: Int64(Self.stripeBytes)) == 0 else {
            return failed(.fallocate)
        }
        let found = word.pointee.load(ordering: .relaxed)
        noteChecked(stripe: scratch, word: Self.readerOffset / 8, expected: 0, found: found, phase: .secondMapping)
        refill(scratch)
    }
}
