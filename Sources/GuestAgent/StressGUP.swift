import DaxRigProtocol
import Glibc

/// The `gup` op: the scratch stripe's DAX pages taken by get_user_pages, the kernel's
/// own page-table walk for I/O, which must find in a shared table exactly what the
/// process's own faults would: the right pages, writable when written.
///
/// On this guest every file lives on the one pmem device, and a DAX file's O_DIRECT
/// read and write copy to and from the user buffer (dax_iomap_rw) rather than pin it,
/// so O_DIRECT between the mapping and another file exercises faults through the shared
/// table, not GUP. vmsplice(2) (get_user_pages_fast) and /proc/self/mem
/// (get_user_pages_remote with FOLL_WRITE) are the GUP paths a kernel without loop,
/// AIO or process_vm_readv (tinyconfig) still has.
extension StressProcess {
    /// One iteration: the stripe's new generation read out through vmsplice's pipe and
    /// through /proc/self/mem; the next generation written in through /proc/self/mem and
    /// checked through the mapping; then copied out to a second file with O_DIRECT, the
    /// stripe zeroed through the mapping, copied back, and checked again.
    mutating func copyThroughPinnedPages() {
        guard let scratch, let base else { return }
        nextScratchGeneration()
        let stripe = address(of: scratch, in: base)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.stripeBytes, alignment: 4096)
        defer { buffer.deallocate() }

        if spliceOut(stripe, into: buffer) { compare(buffer, with: scratch, generation: generation, phase: .vmsplice) }
        if SystemCalls.procSelfMem(read: true, buffer, length: Self.stripeBytes, at: stripe) {
            compare(buffer, with: scratch, generation: generation, phase: .procMemRead)
        } else { failed(.procMem) }

        fill(buffer, stripe: scratch, generation: generation + 1)
        guard SystemCalls.procSelfMem(read: false, buffer, length: Self.stripeBytes, at: stripe) else { return failed(.procMem) }
        generation += 1
        phase = .procMemWrite
        check(scratch, every: true, expect: .pattern(generation: generation))
        phase = .soak

        guard let file = directIOFile() else { return failed(.directIO) }
        defer { close(file) }
        guard pwrite(file, stripe, Self.stripeBytes, 0) == Self.stripeBytes else { return failed(.directIO) }
        memset(stripe, 0, Self.stripeBytes)
        guard pread(file, stripe, Self.stripeBytes, 0) == Self.stripeBytes else { return lost(.directIO) }
        phase = .directIO
        check(scratch, every: true, expect: .pattern(generation: generation))
        phase = .soak
        rewriteOwn()
    }

    /// vmsplice the stripe into a pipe a pipe's worth at a time, reading each part out.
    private mutating func spliceOut(_ stripe: UnsafeMutableRawPointer, into buffer: UnsafeMutableRawPointer) -> Bool {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else {
            failed(.vmsplice)
            return false
        }
        defer { close(ends[0]); close(ends[1]) }
        let part = 64 << 10
        for offset in stride(from: 0, to: Self.stripeBytes, by: part) {
            var spliced = 0
            while spliced < part {
                let n = SystemCalls.vmsplice(ends[1], stripe + offset + spliced, length: part - spliced)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    failed(.vmsplice)
                    return false
                }
                var drained = 0
                while drained < n {
                    let r = read(ends[0], buffer + offset + spliced + drained, n - drained)
                    if r < 0 && errno == EINTR { continue }
                    guard r > 0 else {
                        failed(.vmsplice)
                        return false
                    }
                    drained += r
                }
                spliced += n
            }
        }
        return true
    }

    /// The process's second file, opened O_DIRECT and unlinked at once, so nothing is
    /// left behind however the process ends.
    private func directIOFile() -> Int32? {
        let path = worker.path + "-odirect-\(worker.index)"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | SystemCalls.directIO, 0o600)
        guard fd >= 0 else { return nil }
        unlink(path)
        return fd
    }

    private func fill(_ buffer: UnsafeMutableRawPointer, stripe: Int, generation: UInt64) {
        let words = buffer.assumingMemoryBound(to: UInt64.self)
        for word in 0..<StressLayout.stripeWords {
            words[word] = StressSpec.pattern(stripe: fileStripe(stripe), word: word, seed: seed, generation: generation)
        }
    }

    /// Every word of a copy of the stripe against the generation it must hold.
    private mutating func compare(_ buffer: UnsafeMutableRawPointer, with stripe: Int, generation: UInt64, phase: StressPhase) {
        let words = buffer.assumingMemoryBound(to: UInt64.self)
        for word in 0..<StressLayout.stripeWords {
            noteChecked(stripe: stripe, word: word, expected: StressSpec.pattern(stripe: fileStripe(stripe), word: word, seed: seed, generation: generation),
                        found: words[word], phase: phase)
        }
    }
}
