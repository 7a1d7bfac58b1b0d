import DaxRigProtocol
import Glibc
import GuestCore

/// One [[stress]] run in the guest. Its mapping phase is a workload's (WorkloadRun's
/// measured frame: the same file, address, faults, barriers and PageTables snapshots,
/// so PMD-table accounting and no-leak mean what they mean for a workload). After the
/// mapped snapshot every process writes its stripes (barrier 2), soaks for the spec's
/// seconds (barrier 3), checks every stable stripe once more, and unmaps.
struct StressRun {
    let spec: StressSpec
    let mountPoint: String

    func run() throws -> StressReport {
        let layout = spec.layout
        let n = spec.processes
        let bytes = n * MemoryLayout<StressCounters>.stride
        guard let shared = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0), shared != MAP_FAILED else {
            throw AgentFailure("stress", "mmap of the shared counters: \(errnoText())")
        }
        defer { munmap(shared, bytes) }
        let counters = shared.bindMemory(to: StressCounters.self, capacity: n)
        counters.initialize(repeating: StressCounters(), count: n)
        var mapping = try WorkloadRun(spec: spec.mapping, mountPoint: mountPoint).measured(barriers: 2) { worker, fd, mappings in
            var process = StressProcess(spec: spec, layout: layout, worker: worker, fd: fd, counters: counters + worker.index)
            return process.run(mappings.first)
        }
        let processes = (0..<n).map { counters[$0].process(op: spec.op(of: $0)) }
        for process in processes {
            if let missing = process.unsupported {
                mapping.notes.append("\(process.role) did not run: this kernel has no \(missing)")
            }
        }
        let soak = (0..<n).map { counters[$0].soakNanoseconds }.max() ?? 0
        return StressReport(spec: spec, mapping: mapping, processes: processes, soakSeconds: Double(soak) / 1e9)
    }
}

/// A call a stress process makes, for the first failure's record.
enum StressCall: UInt8 {
    case mmap, munmap, mprotect, mremap, madvise, ftruncate, fallocate, fork, waitpid, msync
    /// Writing "4" to /proc/self/clear_refs, or reading /proc/self/pagemap.
    case clearRefs, pagemap
    /// The kernel has no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY): only ever `unsupported`.
    case softDirty
    /// The soft-dirty child ended other than with 0.
    case softDirtyChild
    /// vmsplice(2) or the read of its pipe; /proc/self/mem; the O_DIRECT file.
    case vmsplice, procMem, directIO
    /// The fork mutator's child ended other than with 0 or 1 (1: it counted mismatches).
    case forkChild
    /// A TLB reader child ended other than as its check says (a signal, a lost handshake).
    case tlbReader
    /// mmap back at the address just unmapped gave another address.
    case misplaced
}

/// What a stress process is doing, for the first mismatch's record.
enum StressPhase: UInt8 {
    case soak, final, forkChild
    /// A TLB reader's last read, after the change was complete.
    case tlbReader
    /// A read through the process's second mapping, after zap and punch through the first.
    case secondMapping
    /// A TLB reader's load after the truncate, which returned where it must raise SIGBUS.
    case tlbTruncate
    /// The soft-dirty child's pagemap bit of the page it wrote, after its own clear_refs,
    /// then after its parent's.
    case softDirtyOwn, softDirty
    /// Words read out through GUP: vmsplice's pipe, /proc/self/mem; words written in
    /// through it (/proc/self/mem) or copied back from the O_DIRECT file.
    case vmsplice, procMemRead, procMemWrite, directIO
}

/// One process's counters, in memory shared with the parent and with the fork
/// mutator's children (which add theirs while their parent waits). Plain values only:
/// the parent reads them after the process exited, however it ended.
struct StressCounters {
    struct Failure {
        var call: StressCall
        /// errno, or the child's wait status.
        var value: Int32
        var iteration: UInt64
    }

    struct Mismatch {
        var stripe: Int
        var word: Int
        var expected: UInt64
        var found: UInt64
        var phase: StressPhase
        var iteration: UInt64
    }

    var iterations: UInt64 = 0
    var wordsVerified: UInt64 = 0
    var mismatches: UInt64 = 0
    var failedCalls: UInt64 = 0
    var firstFailure: Failure?
    var firstMismatch: Mismatch?
    /// The op's call this kernel does not have (ENOSYS, EOPNOTSUPP), and its errno.
    var unsupported: Failure?
    var soakNanoseconds: UInt64 = 0
    /// Time in the op's own call that changes the page tables (madvise for the madv
    /// ops), and how many: what a kernel change to that path costs, apart from the
    /// faults and checks around it.
    var callNanoseconds: UInt64 = 0
    var calls: UInt64 = 0

    func process(op: StressSpec.Op?) -> StressReport.Process {
        let role = op?.rawValue ?? "sharer"
        let failure = firstFailure.map { failure -> String in
            switch failure.call {
            case .tlbReader:
                return "the reader child of iteration \(failure.iteration) "
                    + (Termination(waitStatus: failure.value)?.description ?? "ended with wait status \(failure.value)")
            case .forkChild:
                return "the fork child of iteration \(failure.iteration) "
                    + (Termination(waitStatus: failure.value)?.description ?? "ended with wait status \(failure.value)")
            case .softDirtyChild:
                return "the soft-dirty child of iteration \(failure.iteration) "
                    + (Termination(waitStatus: failure.value)?.description ?? "ended with wait status \(failure.value)")
            case .misplaced:
                return "mmap back at the address just unmapped gave another address in iteration \(failure.iteration)"
            default:
                return "\(failure.call) in iteration \(failure.iteration): \(errnoText(failure.value))"
            }
        }
        let mismatch = firstMismatch.map { first -> StressReport.Mismatch in
            let during = switch first.phase {
            case .soak: "\(role) iteration \(first.iteration)"
            case .final: "final check"
            case .forkChild: "fork child of iteration \(first.iteration)"
            case .tlbReader: "reader child of iteration \(first.iteration), after the change was complete"
            case .secondMapping: "second mapping, iteration \(first.iteration), after MADV_DONTNEED and the punch through the first"
            case .tlbTruncate: "reader child of iteration \(first.iteration): its load after the truncate had returned read this, where it must raise SIGBUS"
            case .softDirtyOwn: "pagemap soft-dirty bit (1 = set) of the page the child of iteration \(first.iteration) wrote after its own clear_refs"
            case .softDirty: "pagemap soft-dirty bit (1 = set) of the page the child of iteration \(first.iteration) wrote after its own clear_refs, "
                + "read again after its parent's clear_refs: another process's clear_refs erased this one's record of a write"
            case .vmsplice: "read out of a pipe that vmsplice filled from the mapping (get_user_pages_fast), iteration \(first.iteration)"
            case .procMemRead: "read through /proc/self/mem (get_user_pages_remote), iteration \(first.iteration)"
            case .procMemWrite: "through the mapping after writing it through /proc/self/mem (get_user_pages_remote, FOLL_WRITE), iteration \(first.iteration)"
            case .directIO: "through the mapping after an O_DIRECT write of it to another file and a read back into it, iteration \(first.iteration)"
            }
            return StressReport.Mismatch(stripe: first.stripe, word: first.word, expected: first.expected, found: first.found, during: during)
        }
        return StressReport.Process(op: op, iterations: iterations, wordsVerified: wordsVerified, mismatches: mismatches,
                                    failedCalls: failedCalls, firstFailure: failure, firstMismatch: mismatch,
                                    callSeconds: calls == 0 ? nil : Double(callNanoseconds) / 1e9, calls: calls == 0 ? nil : calls,
                                    unsupported: unsupported.map { $0.call == .softDirty ? "soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY)" : "\($0.call): \(errnoText($0.value))" })
    }
}

/// One process of a stress run, in its own process, from the mapped snapshot on.
/// Sharers check and rewrite; each mutator loops on its op over its own mapping (or
/// the file), then checks what the op touched through the mapping as it is now.
struct StressProcess {
    /// What a stripe should hold.
    enum Content {
        case pattern(generation: UInt64)
        case zeros
        static let stable = Content.pattern(generation: 0)
    }

    let spec: StressSpec
    let layout: StressLayout
    let worker: Worker
    let fd: Int32
    let counters: UnsafeMutablePointer<StressCounters>
    let op: StressSpec.Op?
    let stable: [Int]
    let own: [Int]
    let scratch: Int?
    let seed: UInt64
    /// Where the mapping is now; nil once it is lost (a failed call left a hole), after
    /// which the process touches nothing.
    var base: UnsafeMutableRawPointer?
    var iteration: UInt64 = 0
    var phase = StressPhase.soak
    /// The generation the scratch stripe holds.
    var generation: UInt64 = 0
    /// xorshift state: each process draws its ranges from a fixed sequence, so a failing
    /// run can be replayed.
    var random: UInt64

    init(spec: StressSpec, layout: StressLayout, worker: Worker, fd: Int32, counters: UnsafeMutablePointer<StressCounters>) {
        self.spec = spec
        self.layout = layout
        self.worker = worker
        self.fd = fd
        self.counters = counters
        op = spec.op(of: worker.index)
        stable = layout.stable
        own = layout.stable(of: worker.index)
        scratch = layout.scratch[worker.index]
        seed = Pattern.seed(spec.name)
        random = 0x2545_F491_4F6C_DD1D &+ UInt64(worker.index) &* 0x9E37_79B9_7F4A_7C15
        mapOffset = Int(worker.fileOffset)
        home = UInt(spec.mapping.addresses(of: worker.index)[0])
        away = UInt(spec.remapAddress + spec.geometry.addressShift(of: worker.index))
    }

    static let stripeBytes = Int(StressLayout.stripeBytes)

    // MARK: Geometry

    /// The file offset this process's mapping starts at, and where the mapping lives at
    /// home and, moved or mapped a second time, away (both with the process's shift).
    let mapOffset: Int
    let home: UInt, away: UInt

    /// The file stripe of layout stripe `stripe` (the layout skips stripe 0 when some
    /// process maps from an offset), its file offset, and its address in a mapping of
    /// this process's (from its file offset) at `mapping`.
    func fileStripe(_ stripe: Int) -> Int { stripe + spec.stripeBase }
    func fileOffset(of stripe: Int) -> Int64 { Int64(fileStripe(stripe)) * Int64(Self.stripeBytes) }
    func address(of stripe: Int, in mapping: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        mapping + (fileStripe(stripe) * Self.stripeBytes - mapOffset)
    }

    /// Writes, soaks, checks; whether every call it made succeeded (its mismatches go to
    /// the workload record, whose exit status counts them).
    mutating func run(_ mapped: UnsafeMutablePointer<UInt8>?) -> Bool {
        base = mapped.map { UnsafeMutableRawPointer($0) }
        for stripe in own { check(stripe, every: true, expect: nil, write: 0) }
        if let scratch { check(scratch, every: true, expect: nil, write: 0) }
        worker.barrier(2)
        armWatchdog()
        let started = Clock.monotonicNanoseconds()
        let deadline = started + UInt64(spec.soakSeconds) * 1_000_000_000
        repeat {
            guard base != nil, counters.pointee.unsupported == nil else { break }
            iteration += 1
            step()
            if counters.pointee.unsupported == nil { counters.pointee.iterations = iteration }
        } while Clock.monotonicNanoseconds() < deadline
        counters.pointee.soakNanoseconds = Clock.monotonicNanoseconds() - started
        // Not while waiting for the others: only a process stuck in its own soak dies.
        alarm(0)
        worker.barrier(3)
        armWatchdog(seconds: 600)
        phase = .final
        for stripe in stable { check(stripe, every: layout.owners[stripe] == worker.index) }
        if let scratch { check(scratch, every: true, expect: .pattern(generation: generation)) }
        alarm(0)
        worker.record[.mismatches] = counters.pointee.mismatches
        return counters.pointee.failedCalls == 0
    }

    /// A process that has not finished its soak `soak` + 600 s after it began, or its final
    /// checks 600 s after the last barrier, dies of SIGALRM (10 minutes: a PTE-mapped
    /// process of the debug agent under a loaded CI host took over 2 to refault 1 GiB), which reaches it
    /// even in a fault the kernel keeps retrying (a livelock v1 of the sharing series
    /// shows): the run then reports the kill instead of the whole boot timing out.
    /// Children the ops fork arm their own (fork does not inherit an alarm).
    func armWatchdog(seconds: Int? = nil) { alarm(UInt32(seconds ?? spec.soakSeconds + 600)) }

    private mutating func step() {
        switch op {
        case nil: share()
        case .munmap: unmapAndMapBack()
        case .mprotect: protect()
        case .mremap: move()
        case .madvDontneed: dropPages(MADV_DONTNEED)
        case .madvCold: dropPages(SystemCalls.madvCold)
        case .madvPageout: dropPages(SystemCalls.madvPageout)
        case .truncate: truncate()
        case .punchHole: punchHole()
        case .fork: forkChild()
        case .tlbPunch: punchUnderReader(split: false)
        case .tlbSplitPunch: punchUnderReader(split: true)
        case .tlbTwoMappings: punchUnderSecondMapping()
        case .tlbTruncate: truncateUnderReader()
        case .softDirty: clearRefsUnderSharer()
        case .msync: syncWhileSharersWrite()
        case .gup: copyThroughPinnedPages()
        }
    }

    // MARK: The roles

    /// A sharer: its own stripes, and a rotating sample of about 64 of everyone's.
    private mutating func share() {
        rewriteOwn()
        let every = max(1, stable.count / 64)
        for (rank, stripe) in stable.enumerated() where (rank + Int(iteration)) % every == 0 && layout.owners[stripe] != worker.index {
            check(stripe)
        }
    }

    /// munmap part or all of the mapping, mmap it back at the same address (refusing
    /// to replace anything: the range must really be empty).
    private mutating func unmapAndMapBack() {
        guard let span = nextSpan() else { return }
        guard munmap(span.at, span.length) == 0 else { return failed(.munmap) }
        let back = mmap(span.at, span.length, PROT_READ | PROT_WRITE, MAP_SHARED | SystemCalls.mapFixedNoReplace, fd, off_t(span.fileOffset))
        guard let back, back != MAP_FAILED else { return lost(.mmap) }
        guard back == span.at else {
            munmap(back, span.length)
            return lost(.misplaced, value: 0)
        }
        settle(span.range)
    }

    /// PROT_READ on part or all of the mapping, read it, PROT_READ | PROT_WRITE again, write.
    private mutating func protect() {
        guard let span = nextSpan() else { return }
        guard mprotect(span.at, span.length, PROT_READ) == 0 else { return failed(.mprotect) }
        check(span.range)
        guard mprotect(span.at, span.length, PROT_READ | PROT_WRITE) == 0 else { return lost(.mprotect) }
        settle(span.range)
    }

    /// Moves the whole mapping to the spec's remap address, checks and writes there,
    /// and moves it back.
    private mutating func move() {
        guard let base else { return }
        nextScratchGeneration()
        let length = Int(spec.bytes)
        let away = UnsafeMutableRawPointer(bitPattern: away)!
        guard let moved = SystemCalls.mremap(base, length: length, to: away) else { return failed(.mremap) }
        self.base = moved
        settle(nextRange())
        nextScratchGeneration()
        let home = UnsafeMutableRawPointer(bitPattern: home)!
        // Failing back leaves the mapping away from home but whole: the next iteration's
        // move fails too, and each failure counts.
        guard let back = SystemCalls.mremap(moved, length: length, to: home) else { return failed(.mremap) }
        self.base = back
        settle(nextRange())
    }

    /// MADV_DONTNEED (or MADV_COLD, MADV_PAGEOUT) on part or all of the mapping, then
    /// faults it back by checking. For MAP_SHARED DAX the data stays in the file
    /// whatever the advice does to the page tables.
    private mutating func dropPages(_ advice: Int32) {
        guard let span = nextSpan() else { return }
        let started = Clock.monotonicNanoseconds()
        let result = madvise(span.at, span.length, advice)
        counters.pointee.callNanoseconds += Clock.monotonicNanoseconds() - started
        counters.pointee.calls += 1
        guard result == 0 else { return failed(.madvise) }
        settle(span.range)
    }

    /// Cuts the scratch stripe, the file's last 2 MiB, off and extends the file again.
    private mutating func truncate() {
        guard let scratch else { return }
        checkScratch()
        guard ftruncate(fd, off_t(fileOffset(of: scratch))) == 0 else { return failed(.ftruncate) }
        // Short of its last stripe, the file must not be touched there (SIGBUS).
        guard ftruncate(fd, off_t(spec.mapping.fileBytes)) == 0 else { return lost(.ftruncate) }
        refill(scratch)
    }

    /// Punches the scratch stripe out of the file (its blocks freed, the size kept).
    private mutating func punchHole() {
        guard let scratch else { return }
        checkScratch()
        guard SystemCalls.fallocate(fd, mode: SystemCalls.punchHole | SystemCalls.keepSize, offset: fileOffset(of: scratch),
                                    length: Int64(Self.stripeBytes)) == 0 else { return failed(.fallocate) }
        refill(scratch)
    }

    /// Forks a child that checks every stable stripe and the scratch stripe through the
    /// inherited mapping, and writes its parent's own stripes again; the parent waits
    /// and checks how it ended.
    private mutating func forkChild() {
        guard base != nil else { return }
        nextScratchGeneration()
        let mismatchesBefore = counters.pointee.mismatches
        let pid = fork()
        if pid < 0 { return failed(.fork) }
        if pid == 0 {
            armWatchdog()
            var child = self
            child.phase = .forkChild
            for stripe in stable { child.check(stripe) }
            child.checkScratch()
            child.rewriteOwn()
            _exit(counters.pointee.mismatches == mismatchesBefore ? 0 : 1)
        }
        var status: Int32 = 0
        var reaped: pid_t
        repeat { reaped = waitpid(pid, &status, 0) } while reaped < 0 && errno == EINTR
        if reaped < 0 { return failed(.waitpid) }
        switch Termination(waitStatus: status) {
        case .exited(0)?, .exited(1)?: break  // 1: the child found words wrong, and counted them already
        default: failed(.forkChild, value: status)
        }
        checkScratch()
        rewriteOwn()
    }

    // MARK: Checks

    /// After an op: the stripes it touched, the scratch stripe's generation, and its own
    /// stripes written again, all through the mapping as it is now.
    mutating func settle(_ range: Range<Int>) {
        check(range)
        checkScratch()
        rewriteOwn()
    }

    /// Its own stripes checked and written again: a sample of each, and every word of
    /// one (a different one each iteration).
    mutating func rewriteOwn() {
        for stripe in own { check(stripe, write: 0) }
        check(own[Int(iteration % UInt64(own.count))], every: true, write: 0)
    }

    /// The stable stripes of `range` (a sample of each): what an op just unmapped,
    /// protected, zapped or moved, read back.
    private mutating func check(_ range: Range<Int>) {
        for stripe in range where !layout.isScratch(stripe) { check(stripe) }
    }

    mutating func checkScratch() {
        if let scratch { check(scratch, expect: .pattern(generation: generation)) }
    }

    /// The scratch stripe's next generation, written over the last one after checking
    /// every word of it: a store that an op lost shows as the generation before.
    mutating func nextScratchGeneration() {
        guard let scratch else { return }
        check(scratch, every: true, expect: .pattern(generation: generation), write: generation + 1)
        generation += 1
    }

    /// After the scratch stripe's blocks went: allocated again (even iterations) or left
    /// a hole (odd ones, so the stores allocate), it must read as zeros, then takes the
    /// next generation, read back; then its own stripes as after any op.
    mutating func refill(_ scratch: Int) {
        if iteration % 2 == 0, SystemCalls.fallocate(fd, mode: 0, offset: fileOffset(of: scratch),
                                                     length: Int64(Self.stripeBytes)) != 0 {
            failed(.fallocate)
        }
        check(scratch, every: true, expect: .zeros, write: generation + 1)
        generation += 1
        check(scratch, every: true, expect: .pattern(generation: generation))
        rewriteOwn()
    }

    /// Checks `stripe` against what it should hold (nil: anything, before the first
    /// write), every word or one word per 4 KiB page at an offset that moves each
    /// iteration; then, with `write`, stores that generation of the pattern in the words
    /// it checked. Counts the words checked and the words wrong.
    mutating func check(_ stripe: Int, every: Bool = false, expect: Content? = .stable, write: UInt64? = nil) {
        guard let base else { return }
        let words = address(of: stripe, in: base).assumingMemoryBound(to: UInt64.self)
        let zeros: Bool, expectSeed: UInt64
        switch expect {
        case let .pattern(generation)?: (zeros, expectSeed) = (false, StressSpec.generationSeed(seed, generation))
        case .zeros?, nil: (zeros, expectSeed) = (true, 0)
        }
        let writeSeed = write.map { StressSpec.generationSeed(seed, $0) }
        let stripeOffset = UInt64(fileOffset(of: stripe))
        let step = every ? 1 : 512
        var word = every ? 0 : Int((iteration &* 61 &+ UInt64(stripe) &* 7) % 512)
        var checked: UInt64 = 0, wrong: UInt64 = 0
        while word < StressLayout.stripeWords {
            let offset = stripeOffset + UInt64(word) * 8
            if expect != nil {
                let wanted = zeros ? 0 : Pattern.word(offset: offset, seed: expectSeed)
                let found = words[word]
                if found != wanted {
                    if counters.pointee.firstMismatch == nil {
                        counters.pointee.firstMismatch = .init(stripe: fileStripe(stripe), word: word, expected: wanted, found: found, phase: phase,
                                                               iteration: iteration)
                    }
                    wrong += 1
                }
                checked += 1
            }
            if let writeSeed { words[word] = Pattern.word(offset: offset, seed: writeSeed) }
            word += step
        }
        counters.pointee.wordsVerified += checked
        counters.pointee.mismatches += wrong
    }

    /// One word checked outside `check` (a TLB reader's), and whether it was wrong.
    mutating func noteChecked(stripe: Int, word: Int, expected: UInt64, found: UInt64, phase: StressPhase) {
        counters.pointee.wordsVerified += 1
        guard found != expected else { return }
        if counters.pointee.firstMismatch == nil {
            counters.pointee.firstMismatch = .init(stripe: fileStripe(stripe), word: word, expected: expected, found: found, phase: phase, iteration: iteration)
        }
        counters.pointee.mismatches += 1
    }

    // MARK: Ranges and failures

    /// Stripes of the mapping as it is now, and their address and length.
    struct Span {
        var range: Range<Int>
        var at: UnsafeMutableRawPointer
        var length: Int
        /// The file offset at `at`.
        var fileOffset: Int64
    }

    /// The start of an op on part of the mapping: the scratch stripe's next generation,
    /// and this iteration's stripes. Every third iteration (the first, the fourth, ...)
    /// the span's edges move 1 to 255 pages into its first and last stripes, so that an
    /// munmap, mprotect or madvise there splits their huge PMDs at 4 KiB granularity;
    /// `range` still names every stripe the span touches, which the checks then read
    /// whole. Nil once the mapping is lost.
    mutating func nextSpan() -> Span? {
        guard let base else { return nil }
        nextScratchGeneration()
        let range = nextRange()
        var span = Span(range: range, at: address(of: range.lowerBound, in: base), length: range.count * Self.stripeBytes,
                        fileOffset: fileOffset(of: range.lowerBound))
        if iteration % 3 == 1 {
            let head = Int(random % 255 + 1) * 4096, tail = Int((random >> 8) % 255 + 1) * 4096
            span.at += head
            span.length -= head + tail
            span.fileOffset += Int64(head)
        }
        return span
    }

    /// This iteration's stripes: the whole file every third iteration (the second, the
    /// fifth, ...), else 1 to 16 stripes at a place drawn from the process's sequence.
    private mutating func nextRange() -> Range<Int> {
        if iteration % 3 == 2 { return 0..<layout.stripes }
        random ^= random << 13
        random ^= random >> 7
        random ^= random << 17
        let count = Int(random % 16) + 1
        let start = Int((random >> 8) % UInt64(layout.stripes - count + 1))
        return start..<(start + count)
    }

    /// Counts a failed call; the first one is kept with its errno (read at the call). A
    /// call this kernel does not have is no failure of the kernel's: it is noted, and
    /// the process stops its soak after this iteration.
    mutating func failed(_ call: StressCall, value: Int32 = errno) {
        if call != .forkChild && (value == ENOSYS || value == EOPNOTSUPP) {
            if counters.pointee.unsupported == nil { counters.pointee.unsupported = .init(call: call, value: value, iteration: iteration) }
            return
        }
        if counters.pointee.firstFailure == nil { counters.pointee.firstFailure = .init(call: call, value: value, iteration: iteration) }
        counters.pointee.failedCalls += 1
    }

    /// A failed call that left part of the mapping gone or unwritable: from here on the
    /// process touches nothing (it would fault), and its failure is on the record.
    mutating func lost(_ call: StressCall, value: Int32 = errno) {
        failed(call, value: value)
        base = nil
    }
}
