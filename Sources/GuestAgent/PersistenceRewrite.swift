import DaxRigProtocol
import Glibc
import GuestCore

/// Write after writeback (a persistence check with `rewrite`). The writers map the whole
/// file at one 1 GiB-aligned address, store the first pattern in their stripes, make it
/// durable, and stay mapped; then the rewriters map it at the same address (from
/// `rewriteOffset` on), store the second pattern over every stripe and make that durable
/// too. Writeback cleans and write-protects the writers' entries (dax_entry_mkclean), so
/// each rewriter store must fault and dirty its page again, or the next msync skips it;
/// a kernel that serves the rewriters from the writers' PMD tables must also show them
/// the pages they mapped. Once the rewriters are done, each writer reads its stripe
/// back through its own mapping: it must see the second pattern too (a page table the
/// rewriters built in a table they share with it shows it their view of the file). The
/// verify boot wants the second pattern in every word.
extension Persistence {
    static func rewrite(_ spec: PersistenceSpec, fd: Int32, notes: inout [String]) throws -> Int {
        let stripes = spec.stripes.map { (offset: spec.checkedRange.lowerBound + $0.offset, length: $0.length) }
        let begun = Clock.now()
        var ready: [Int32] = [0, 0], release: [Int32] = [0, 0]
        guard pipe(&ready) == 0 else { throw AgentFailure("persist", "pipe: \(errnoText())") }
        guard pipe(&release) == 0 else {
            let failure = AgentFailure("persist", "pipe: \(errnoText())")
            close(ready[0]); close(ready[1])
            throw failure
        }
        var open: Set<Int32> = [ready[0], ready[1], release[0], release[1]]
        func closing(_ fd: Int32) { if open.remove(fd) != nil { close(fd) } }
        // Each process's page faults, in memory the children write and the parent reads
        // after they exited: a rewriter that joined a writer's PMD table takes a handful,
        // one with a table of its own one per 2 MiB (PMDs) or per 4 KiB (PTEs).
        // Then, per writer, the words it read wrong after the rewrite and the first one's
        // file offset + 1.
        let slots = 4 * stripes.count * 8
        guard let shared = mmap(nil, slots, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0), shared != MAP_FAILED else {
            throw AgentFailure("persist", "mmap of the fault counters: \(errnoText())")
        }
        defer { munmap(shared, slots) }
        let faults = shared.bindMemory(to: UInt64.self, capacity: 4 * stripes.count)
        faults.initialize(repeating: 0, count: 4 * stripes.count)
        let seen = faults + 2 * stripes.count
        var writers: [pid_t] = [], rewriters: [pid_t] = []
        // A fork that fails half-way must not leave writers waiting for a release that
        // never comes (they hold the file mapped, and the unmount after the check would
        // fail): every child so far is killed and reaped, and every pipe end closed.
        func abandon() -> AgentFailure {
            let failure = AgentFailure("persist", "fork: \(errnoText())")
            for fd in open { close(fd) }
            open.removeAll()
            for pid in writers + rewriters {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            }
            return failure
        }
        for stripe in stripes {
            let pid = fork()
            if pid < 0 { throw abandon() }
            if pid == 0 {
                close(ready[0])
                close(release[1])
                let status = store(spec, fd: fd, from: 0, length: spec.fileBytes, stripe: stripe, seed: spec.patternSeed, unmap: false,
                                   faults: faults + writers.count)
                guard status == 0 else { _exit(status) }
                // Durable, and still mapped: say so, and hold on until the rewriters are done.
                var byte: UInt8 = 1
                guard write(ready[1], &byte, 1) == 1 else { _exit(4) }
                close(ready[1])  // so that a writer that died leaves the parent an end of file, not a wait
                while read(release[0], &byte, 1) < 0 && errno == EINTR {}
                let wrong = readBack(spec, stripe: stripe, seen: seen + 2 * writers.count)
                _exit(wrong ? 6 : 0)
            }
            writers.append(pid)
        }
        closing(ready[1])
        closing(release[0])
        // One byte from each writer; a writer that died closes its end early, and then
        // the rewriters run against fewer mappings, which its exit status reports.
        var byte: UInt8 = 0, heard = 0
        while heard < stripes.count {
            let n = read(ready[0], &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            heard += 1
        }
        closing(ready[0])
        let started = Clock.now()
        let written = started - begun
        for stripe in stripes {
            let pid = fork()
            if pid < 0 { throw abandon() }
            if pid == 0 {
                close(release[1])
                _exit(store(spec, fd: fd, from: spec.rewriteOffset, length: spec.mappingBytes, stripe: stripe, seed: spec.rewriteSeed, unmap: true,
                            faults: faults + stripes.count + rewriters.count))
            }
            rewriters.append(pid)
        }
        let failedRewriters = reap(rewriters, role: "rewriter", notes: &notes)
        let rewritten = Clock.now() - started
        closing(release[1])
        let failed = reap(writers, role: "writer", notes: &notes) + failedRewriters
        // Where a slow write boot spent its time: under TCG a rewriter that may not share
        // takes a PTE fault per 4 KiB page, and those dominate.
        let tenths = { (seconds: Double) in "\(Double(Int(seconds * 10)) / 10) s" }
        notes.append("time: writers stored and synced in \(tenths(written)), rewriters \(tenths(rewritten)), "
            + "writers read back \(tenths(Clock.now() - started - rewritten))")
        for (rank, stripe) in stripes.enumerated() where seen[2 * rank] > 0 {
            notes.append("writer of file offset \(stripe.offset) read \(seen[2 * rank]) words wrong through its own mapping after the rewrite, "
                + "the first at file offset \(seen[2 * rank + 1] - 1)")
        }
        let counts = (0..<(2 * stripes.count)).map { String(faults[$0]) }
        notes.append("page faults: writers " + counts.prefix(stripes.count).joined(separator: ", ")
            + "; rewriters (at file offset \(spec.rewriteOffset)) " + counts.suffix(stripes.count).joined(separator: ", "))
        return failed
    }

    /// A writer, after the rewrite: every word of its stripe through its own mapping
    /// (from file offset 0 at the rewrite address) against the rewriters' pattern.
    private static func readBack(_ spec: PersistenceSpec, stripe: (offset: UInt64, length: UInt64), seen: UnsafeMutablePointer<UInt64>) -> Bool {
        let words = UnsafePointer<UInt64>(bitPattern: UInt(PersistenceSpec.rewriteAddress + stripe.offset))!
        // Once, not per word: the seed hashes the check's name, and per word under TCG
        // that made a 32 MiB read-back take 250 s (a whole GiB timed the boot out).
        let seed = spec.rewriteSeed
        for index in 0..<Int(stripe.length / 8) {
            let offset = stripe.offset + UInt64(index) * 8
            guard words[index] != PersistenceSpec.pattern(offset: offset, seed: seed) else { continue }
            if seen[0] == 0 { seen[1] = offset + 1 }
            seen[0] += 1
        }
        return seen[0] > 0
    }

    /// Maps `length` bytes of the file from `mapOffset` at the rewrite address, stores
    /// the pattern in every word of `stripe` (file offsets), and makes it durable as the
    /// spec says; its fault count goes to `faults`. The exit status a writer reports.
    private static func store(_ spec: PersistenceSpec, fd: Int32, from mapOffset: UInt64, length: UInt64,
                              stripe: (offset: UInt64, length: UInt64), seed: UInt64, unmap: Bool,
                              faults: UnsafeMutablePointer<UInt64>) -> Int32 {
        // The address as a hint, checked: MAP_SHARED_VALIDATE refuses MAP_FIXED_NOREPLACE.
        let flags = spec.sync == .mapSync ? SystemCalls.mapSharedValidate | SystemCalls.mapSync : MAP_SHARED
        let at = UnsafeMutableRawPointer(bitPattern: UInt(PersistenceSpec.rewriteAddress))
        guard let base = mmap(at, Int(length), PROT_READ | PROT_WRITE, flags, fd, off_t(mapOffset)), base != MAP_FAILED else { return 2 }
        guard base == at else { return 5 }
        let start = base + Int(stripe.offset - mapOffset)
        let words = start.bindMemory(to: UInt64.self, capacity: Int(stripe.length / 8))
        for index in 0..<Int(stripe.length / 8) {
            words[index] = PersistenceSpec.pattern(offset: stripe.offset + UInt64(index) * 8, seed: seed)
        }
        if spec.sync == .msync, msync(start, Int(stripe.length), MS_SYNC) != 0 { return 3 }
        faults.pointee = Counters.minorFaults()
        if unmap { munmap(base, Int(length)) }
        return 0
    }
}
