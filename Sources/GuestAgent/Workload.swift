import DaxRigProtocol
import GuestCore
import FoundationEssentials
import Glibc
import Synchronization

/// `/init workload`: runs the plan's workloads and then its stress runs (its task,
/// `.workload(WorkloadPayload)`) one after another and leaves one WorkloadReport or StressReport
/// JSON per run in the reports directory, which the agent sends to the host.
///
/// Measuring page tables has traps (DESIGN.md): the global counter is read only
/// after vm/stat_refresh and only while every worker is alive and waiting at a
/// barrier; per-process VmPTE is read before and after mapping, never as an absolute.
enum Workload {
    static func run() -> Int32 {
        do {
            let plan = try JSONDecoder().decode(GuestPlan.self, from: Data(try FileIO.readBytes(GuestPlan.path)))
            guard case let .workload(runs) = plan.task else {
                throw AgentFailure("workload", "the plan's task is not a workload: it is \(plan.task?.name ?? "none")")
            }
            let specs = runs.workloads
            for (index, spec) in specs.enumerated() {
                let megabytes = spec.mappingBytes >> 20
                let what = "\(spec.backing.rawValue), \(spec.processes) processes x \(megabytes) MiB"
                print("workload \(index + 1)/\(specs.count): \(spec.name): " + what)
                KernelLog.mark(CaseMarker.beginning(spec.name))
                let report: WorkloadReport
                do {
                    report = try WorkloadRun(spec: spec, mountPoint: plan.pmem.mountPoint).run()
                } catch let failure as AgentFailure {
                    // Named, so the cases of this boot that never ran are not taken for it.
                    throw AgentFailure(failure.stage, "\(spec.name): \(failure.message)")
                }
                try ReportFile.write(.workload(report), index: index, name: spec.name, stage: "workload")
            }
            for (index, spec) in runs.stress.enumerated() {
                print("stress \(index + 1)/\(runs.stress.count): \(spec.name): \(spec.backing.rawValue), \(spec.sharers) sharers, "
                    + "ops \(spec.ops.map(\.rawValue).joined(separator: " ")), \(spec.bytes >> 20) MiB, soak \(spec.soakSeconds) s")
                KernelLog.mark(CaseMarker.beginning(spec.name))
                let report = try StressRun(spec: spec, mountPoint: plan.pmem.mountPoint).run()
                try ReportFile.write(.stress(report), index: specs.count + index, name: spec.name, stage: "stress")
                print("stress \(spec.name): " + report.iterations.map { "\($0.role) \($0.count)" }.joined(separator: ", ")
                    + " iterations; \(report.wordsVerified) words checked, \(report.mismatches) wrong, \(report.failedCalls) failed calls")
            }
            KernelLog.mark(CaseMarker.end)
            return 0
        } catch let failure as AgentFailure {
            print("workload failed at \(failure.stage): \(failure.message)")
            return 1
        } catch {
            print("workload failed: \(error)")
            return 1
        }
    }
}

/// One workload: prepare the file, fork the workers, snapshot, verify, tear down.
struct WorkloadRun {
    let spec: WorkloadSpec
    let mountPoint: String

    /// Per worker, in a shared anonymous mapping: the fields of WorkloadReport.Worker
    /// (`Worker.Slot` names them).
    static let recordWords = Worker.Slot.count

    func run() throws -> WorkloadReport {
        let writable = spec.access != .readSparse
        let common = spec.geometry.commonFileRange(processes: spec.processes, length: spec.mappingBytes)
        let writers = spec.geometry.writers(processes: spec.processes)
        let stripe = (UInt64(common.count) / UInt64(max(1, writers.count))) & ~UInt64(4095)
        var report = try measured(barriers: 1) { worker, _, mappings in
            worker.record[.mismatches] = worker.checkStripes(mappings, common: common, stripe: stripe, writers: writers)
            if spec.geometry.isReadOnly(worker.index), let first = mappings.first { worker.probeStore(first) }
            return true
        }
        // A read-only worker that ended at its probe's SIGSEGV did what it must.
        for index in report.workers.indices where spec.geometry.isReadOnly(index) && report.workers[index].exitStatus == Worker.probeFaulted {
            report.workers[index].exitStatus = 0
            report.workers[index].readOnlyStoreTaken = false
        }
        report.patternWords = writable ? stripe / 4096 : 0
        if !writable { report.notes.append("read-only access: no data pattern written or verified") }
        return report
    }

    /// The measured frame of every many-process run (workloads and stress runs): creates
    /// the file, forks the workers, and takes the PageTables snapshots before forking,
    /// with every worker alive and nothing mapped (control), with everything mapped, and
    /// after every worker exited. Between the mapped snapshot and unmapping, each worker
    /// runs `work` in its own process on its file descriptor and mappings (none when an
    /// mmap failed); `work` passes `barriers` more barriers (Worker.barrier(2), (3), ...), at
    /// each of which the parent waits for every worker, and returns whether the
    /// worker's own checks held.
    func measured(barriers: Int, work: (Worker, Int32, [UnsafeMutablePointer<UInt8>]) -> Bool) throws -> WorkloadReport {
        let started = Clock.now()
        var phases: [WorkloadPhase] = []
        var lap = started
        func phase(_ name: String) {
            let now = Clock.now()
            phases.append(WorkloadPhase(name, seconds: now - lap))
            lap = now
        }
        var notes: [String] = []
        var alignedRegions: UInt64?
        let path = try prepareFile(notes: &notes, alignedRegions: &alignedRegions)
        phase("file")
        let n = spec.processes
        guard n >= 1, n <= 10_000 else { throw AgentFailure("workload", "processes must be 1...10000, not \(n)") }

        try Self.raiseProcessLimits(for: n, notes: &notes)
        let recordsBytes = n * Self.recordWords * 8
        guard let records = mmap(nil, recordsBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0),
              records != MAP_FAILED else { throw AgentFailure("workload", "mmap of the shared records: \(errnoText())") }
        defer { munmap(records, recordsBytes) }
        let words = records.bindMemory(to: UInt64.self, capacity: n * Self.recordWords)

        // Barriers: workers write a byte to `ready` and block reading their phase's
        // `go` pipe; the parent waits for every worker, takes its snapshot, writes N
        // bytes. Phase 0 has two pipes: worker 0 maps and faults alone first, so the
        // others' faults show what they found already populated (one fault each when
        // the PMD table is shared) instead of a race for it. Then the mapped snapshot,
        // the work's barriers, and the last one, unmapped, before exit.
        let ready = try Pipe()
        let first = try Pipe()
        let go = try (0..<(barriers + 3)).map { _ in try Pipe() }
        var group = WorkerGroup(ready: ready)
        if !group.watchesMemory { notes.append("the kernel log (/dev/kmsg) could not be opened: OOM kills in the guest were not watched") }

        let imageRegions = Worker.imageRegions()
        // Armed before the first snapshot: whatever the trigger allocates is in every one.
        let trace = spec.backing.pmemFileSystem == nil ? nil : DaxTrace.start()
        let preFork = try Counters.pageTables(notes: &notes)
        for index in 0..<n {
            let pid = fork()
            if pid < 0 { throw AgentFailure("workload", "fork of worker \(index): \(errnoText())") }
            if pid == 0 {
                let record = words + index * Self.recordWords
                var gates = go.map(\.read)
                if index == 0 { gates[0] = first.read }
                let status = Worker(spec: spec, path: path, index: index, record: record, ready: ready.write, go: gates,
                                    imageRegions: imageRegions).run(work: work)
                _exit(status)
            }
            group.add(pid)
        }
        try group.await(0..<n)
        phase("fork")
        let control = try Counters.pageTables(notes: &notes)
        first.release(1)                   // worker 0 maps and faults alone
        try group.await(0..<1)
        phase("first")
        go[0].release(n - 1)               // then every other worker
        try group.await(1..<n)
        let (mapped, mappedMemory) = try Counters.snapshot(notes: &notes)
        let memory = mappedMemory.bytes
        let pmdFaults = trace?.stop()
        phase("fault")
        for barrier in 1...(barriers + 1) {  // the work's barriers, then unmapped
            go[barrier].release(n)
            try group.await(0..<n)
        }
        phase("work")
        go[barriers + 2].release(n)        // exit
        let statuses = group.statuses()
        try group.checkMemory()            // a kill while the workers exited
        let final = try Counters.pageTables(notes: &notes)
        if spec.backing != .tmpfs { unlink(path) }
        phase("exit")

        let workers = (0..<n).map { index -> WorkloadReport.Worker in
            let r = Worker.Record(words + index * Self.recordWords)
            return .init(vmPTEBefore: r[.vmPTEBefore], vmPTEAfter: r[.vmPTEAfter], faults: r[.faults], faultNanoseconds: r[.faultNanoseconds],
                         mismatches: r[.mismatches], mapErrno: Int32(truncatingIfNeeded: r[.mapErrno]), exitStatus: statuses[index],
                         firstMismatch: r.firstMismatch(seed: Pattern.seed(spec.name), fileBytes: spec.fileBytes),
                         readOnlyStoreTaken: r[.readOnlyStore] == 2 ? true : nil,
                         fatalSignal: statuses[index] > 128 ? r.fatalSignal : nil)
        }
        if let injected = FaultInjection.sigbusWorker, injected < n {
            notes.append("worker \(injected)'s SIGBUS was injected (DAXRIG_INJECT_SIGBUS=\(injected)): these results test the rig, not the kernel")
        }
        for (index, status) in statuses.enumerated() where status > 128 {
            notes.append("worker \(index) was killed by signal \(status - 128) (\(String(cString: strsignal(status - 128))))"
                + (workers[index].fatalSignal.map { ": \($0)" } ?? "")
                + (status - 128 == SIGALRM ? ": the stress watchdog, 600 s after its soak should have ended (a fault retried forever, or a lost handshake)" : ""))
        }
        return WorkloadReport(spec: spec, preFork: preFork, control: control, mapped: mapped, final: final, workers: workers,
                              patternWords: 0, seconds: Clock.now() - started, notes: notes,
                              memTotal: memory["MemTotal"], alignedRegions: alignedRegions, pmdFaults: pmdFaults,
                              memUsedMapped: memory["MemTotal"].flatMap { total in memory["MemAvailable"].map { total > $0 ? total - $0 : 0 } },
                              cpus: sysconf(Int32(_SC_NPROCESSORS_ONLN)), phases: phases)
    }

    /// Room for N workers: tinyconfig's BASE_SMALL sets pid_max to 4096, and
    /// threads-max follows guest memory. Both are raised, never lowered.
    static func raiseProcessLimits(for n: Int, notes: inout [String]) throws {
        let wanted = n + 1024
        for (name, ceiling) in [("pid_max", 32768), ("threads-max", 1 << 20)] {
            let path = "/proc/sys/kernel/\(name)"
            guard let current = Int((try? FileIO.readText(path))?.split(separator: "\n").first ?? ""), current < wanted else { continue }
            let value = min(max(wanted, current), ceiling)
            do {
                try Counters.write(path, "\(value)")
            } catch {
                throw AgentFailure("workload", "\(n) processes need kernel.\(name) >= \(wanted); it is \(current) and could not be raised: \(error)")
            }
            if value < wanted {
                throw AgentFailure("workload", "\(n) processes need kernel.\(name) >= \(wanted); this kernel allows at most \(value)")
            }
            notes.append("raised kernel.\(name) from \(current) to \(value) for \(n) processes")
        }
    }

    /// Creates the file to map on the backing, sized to the mapping.
    private func prepareFile(notes: inout [String], alignedRegions: inout UInt64?) throws -> String {
        let path: String
        switch spec.backing {
        case .fsdaxXfs, .fsdaxExt4:
            let wanted = spec.backing.pmemFileSystem!.rawValue
            guard let mount = Mounts.table().first(where: { $0.mountPoint == mountPoint }), mount.type == wanted else {
                throw AgentFailure("workload", "\(spec.backing.rawValue) needs \(wanted) with DAX at \(mountPoint); the guest has "
                    + (Mounts.table().first { $0.mountPoint == mountPoint }.map { $0.type } ?? "nothing") + " there")
            }
            path = mountPoint + "/daxrig-\(spec.name)"
        case .hugetlbfs:
            let target = "/mnt/huge"
            try FileIO.makeDirectories(target)
            if !Mounts.table().contains(where: { $0.mountPoint == target }) {
                guard mount("none", target, "hugetlbfs", 0, "pagesize=2M") == 0 else {
                    throw AgentFailure("workload", "mount hugetlbfs on \(target): \(errnoText())")
                }
            }
            let pages = (spec.fileBytes + (2 << 20) - 1) / (2 << 20)
            try Counters.write("/proc/sys/vm/nr_hugepages", "\(pages)")
            let total = MemInfo(text: try FileIO.readText("/proc/meminfo")).bytes["HugePages_Total"] ?? 0
            guard total >= pages else {
                throw AgentFailure("workload", "the guest could reserve \(total) of \(pages) 2 MiB huge pages: give it more memory")
            }
            path = target + "/daxrig-\(spec.name)"
        case .tmpfs:
            path = "/tmp/daxrig-\(spec.name)"
        }
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw AgentFailure("workload", "create \(path): \(errnoText())") }
        defer { close(fd) }
        let size = off_t(spec.fileBytes)
        if spec.access == .readSparse || spec.backing == .hugetlbfs || spec.backing == .tmpfs {
            guard ftruncate(fd, size) == 0 else { throw AgentFailure("workload", "ftruncate \(path): \(errnoText())") }
        } else {
            let result = SystemCalls.fallocate(fd, length: Int64(size))
            guard result == 0 else { throw AgentFailure("workload", "fallocate \(spec.fileBytes >> 10) KiB in \(path): \(errnoText())") }
            if spec.backing.pmemFileSystem != nil {
                if let map = ExtentMap.read(fd: fd, length: spec.fileBytes) {
                    let (aligned, regions) = map.alignedRegions(length: spec.fileBytes)
                    alignedRegions = aligned
                    if aligned < regions {
                        notes.append("\(spec.backing.pmemFileSystem!.rawValue) could align \(aligned) of \(regions) 2 MiB regions of the file "
                            + "(\(map.extents.count) extents): DAX must map the other \(regions - aligned) with PTEs")
                    }
                } else {
                    notes.append("FIEMAP unavailable: extent alignment not checked")
                }
            }
        }
        return path
    }
}

/// One forked worker. Runs in the child only; returns its exit status.
struct Worker {
    /// The record's words and their layout live in GuestCore (`WorkerRecord`).
    typealias Slot = WorkerRecord.Slot
    typealias Record = WorkerRecord

    let spec: WorkloadSpec
    let path: String
    let index: Int
    let record: Record
    let ready: Int32
    let go: [Int32]

    /// One address in every 2 MiB region of the agent's own file-backed mappings (its
    /// text and data), read in the parent before it forks.
    let imageRegions: [UInt]

    init(spec: WorkloadSpec, path: String, index: Int, record: UnsafeMutablePointer<UInt64>, ready: Int32, go: [Int32], imageRegions: [UInt] = []) {
        self.imageRegions = imageRegions
        self.spec = spec
        self.path = path
        self.index = index
        self.record = Record(record)
        self.ready = ready
        self.go = go
    }

    /// The file offset all of this worker's mappings start at, and their length.
    var fileOffset: UInt64 { spec.geometry.fileOffset(of: index) }
    var length: Int { Int(spec.mappingBytes(of: index)) }
    /// Read-write unless the access or the geometry says read-only.
    var writable: Bool { spec.access != .readSparse && !spec.geometry.isReadOnly(index) }

    /// Maps and faults at barrier 0, runs `work` after the mapped snapshot (barrier 1),
    /// unmaps, and waits at the last barrier for the parent's go to exit.
    func run(work: (Worker, Int32, [UnsafeMutablePointer<UInt8>]) -> Bool) -> Int32 {
        FatalSignals.install(record: record.words)
        let fd = open(path, writable ? O_RDWR : O_RDONLY)
        // The geometry's answers before the control snapshot: in a debug build the code
        // behind them (the standard library's generic max, say) lies in text this forked
        // worker has not faulted yet, and a PTE table grown for it inside the window
        // counted as one more PMD table per worker.
        let addresses = spec.addresses(of: index), length = self.length, writable = self.writable
        rehearse()
        let injected = FaultInjection.sigbusWorker == index, hog = FaultInjection.oomWorker == index
        let panics = FaultInjection.panicWorker == index
        barrier(0)
        if injected { FaultInjection.takeSIGBUS() }
        if panics { FaultInjection.panicKernel() }
        if hog { FaultInjection.exhaustMemory() }
        let mappings = mapAndFault(fd: fd, writable: writable, addresses: addresses, length: length)
        barrier(1)
        let held = work(self, fd, mappings)
        for mapped in mappings { munmap(mapped, length) }
        if fd >= 0 { close(fd) }
        barrier(go.count - 1)
        return record[.mapErrno] == 0 && record[.mismatches] == 0 && held ? 0 : 1
    }

    /// Maps the file at each of the worker's addresses (the geometry's) and faults every
    /// mapping in as the spec's access says, recording VmPTE before and after, the
    /// faults, their time and the first failed mmap's errno. Returns the mappings, or
    /// none when one failed.
    private func mapAndFault(fd: Int32, writable: Bool, addresses: [UInt64], length: Int) -> [UnsafeMutablePointer<UInt8>] {
        // Every allocation before the first counter read: a heap page faulted (or a page
        // table grown for it) inside the window would count as the mapping's.
        var mappings: [UnsafeMutablePointer<UInt8>] = []
        mappings.reserveCapacity(addresses.count)
        var flags = MAP_SHARED | SystemCalls.mapFixedNoReplace  // the same fresh address in every worker
        // MAP_SHARED_VALIDATE | MAP_SYNC | MAP_FIXED: 6.1 validates against a mask that
        // lacks MAP_FIXED_NOREPLACE (EOPNOTSUPP); nothing else lives at our address.
        if spec.mapSync { flags = SystemCalls.mapSharedValidate | SystemCalls.mapSync | MAP_FIXED }
        record[.mapErrno] = 0
        record[.vmPTEBefore] = Counters.vmPTE()
        let faultsBefore = Counters.minorFaults()
        let t0 = Clock.monotonicNanoseconds()
        for address in addresses {
            let base = mmap(UnsafeMutableRawPointer(bitPattern: UInt(address)), length,
                            writable ? PROT_READ | PROT_WRITE : PROT_READ, flags, fd, off_t(fileOffset))
            guard let base, base != MAP_FAILED else {
                record[.mapErrno] = UInt64(errno)
                for mapped in mappings { munmap(mapped, length) }
                mappings.removeAll(keepingCapacity: true)
                break
            }
            mappings.append(base.bindMemory(to: UInt8.self, capacity: length))
        }
        var sum: UInt64 = 0
        // A read-only worker reads where the access would write.
        let step = spec.access == .every4K ? 4096 : 2 << 20
        for bytes in mappings {
            if writable {
                for offset in stride(from: 0, to: length, by: step) { bytes[offset] = 1 }
            } else {
                for offset in stride(from: 0, to: length, by: step) { sum &+= UInt64(bytes[offset]) }
            }
        }
        record[.faultNanoseconds] = Clock.monotonicNanoseconds() - t0
        record[.faults] = Counters.minorFaults() - faultsBefore
        record[.vmPTEAfter] = Counters.vmPTE()
        record[.faultSum] = sum
        return mappings
    }

    /// A workload's integrity check, in file offsets: the file range every worker maps
    /// (`common`) is cut into one stripe per writer (every read-write worker). Each
    /// writer stores the pattern word of the file offset at the start of every 4 KiB
    /// page of its stripe, through its first mapping; after everyone wrote (barrier 2),
    /// every worker checks through each of its mappings its successor's stripe in full
    /// (a read-only worker: the stripe of writer `index` modulo the writers) and the
    /// first page of up to 64 others. A worker whose mapping shows another file offset
    /// than the one it mapped (a table shared with a mapping that is not congruent)
    /// reads the wrong words, and so does everyone whose pages its stores landed on.
    /// Returns the words found wrong.
    func checkStripes(_ mappings: [UnsafeMutablePointer<UInt8>], common: Range<UInt64>, stripe: UInt64, writers: [Int]) -> UInt64 {
        let n = writers.count
        guard spec.access != .readSparse, let first = mappings.first, stripe >= 4096, n > 0 else {
            barrier(2)
            return 0
        }
        let seed = Pattern.seed(spec.name)
        func start(of rank: Int) -> UInt64 { common.lowerBound + UInt64(rank) * stripe }
        let rank = writers.firstIndex(of: index)
        if let rank {
            let mine = start(of: rank)
            for fileOffset in stride(from: mine, to: mine + stripe, by: 4096) {
                UnsafeMutableRawPointer(first).storeBytes(of: Pattern.word(offset: fileOffset, seed: seed),
                                                          toByteOffset: Int(fileOffset - self.fileOffset), as: UInt64.self)
            }
        }
        barrier(2)
        var mismatches: UInt64 = 0
        func check(_ mapping: Int, _ fileOffset: UInt64) {
            let found = UnsafeMutableRawPointer(mappings[mapping]).load(fromByteOffset: Int(fileOffset - self.fileOffset), as: UInt64.self)
            if found != Pattern.word(offset: fileOffset, seed: seed) {
                mismatches += 1
                record.noteMismatch(mapping: mapping, fileOffset: fileOffset, found: found)
            }
        }
        let successor = rank.map { ($0 + 1) % n } ?? index % n
        let step = max(1, n / 64)
        for mapping in mappings.indices {
            for fileOffset in stride(from: start(of: successor), to: start(of: successor) + stripe, by: 4096) { check(mapping, fileOffset) }
            for other in stride(from: 0, to: n, by: step) where other != successor && (other != rank || mapping > 0) {
                check(mapping, start(of: other))
            }
        }
        return mismatches
    }

    /// A read-only worker's probe, its last act: it stores the word it read back into
    /// the first word of its PROT_READ mapping, which must fault (SIGSEGV). It has to be
    /// the worker itself: its page tables are what a kernel might have shared with a
    /// writer's, handing it writable entries that let the store go straight through to
    /// a file it opened read-only (a child would fault on its own empty tables). The
    /// SIGSEGV handler ends the worker with `probeFaulted`, which the parent takes for
    /// the right answer; the record says "went through" only once the store returned.
    func probeStore(_ mapping: UnsafeMutablePointer<UInt8>) {
        let word = UnsafeMutableRawPointer(mapping).assumingMemoryBound(to: Atomic<UInt64>.self)
        let value = word.pointee.load(ordering: .relaxed)
        record[.readOnlyStore] = 1
        signal(SIGSEGV) { _ in _exit(77) }  // Worker.probeFaulted, as a literal: nothing lazy in a handler
        word.pointee.store(value, ordering: .relaxed)
        FatalSignals.install(SIGSEGV)
        record[.readOnlyStore] = 2
    }

    /// The start of every 2 MiB region of this process's readable file-backed mappings
    /// (/proc/self/maps), for rehearse().
    static func imageRegions() -> [UInt] {
        guard let maps = try? FileIO.readText("/proc/self/maps") else { return [] }
        var regions: [UInt] = []
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1].hasPrefix("r"), fields[5].hasPrefix("/") else { continue }
            let bounds = fields[0].split(separator: "-").compactMap { UInt($0, radix: 16) }
            guard bounds.count == 2, bounds[0] < bounds[1] else { continue }
            var address = bounds[0]
            while address < bounds[1] {
                regions.append(address)
                address = (address & ~UInt((2 << 20) - 1)) + UInt(2 << 20)
            }
        }
        return regions
    }

    /// The exit status of a read-only worker whose probe store faulted, as it must.
    static let probeFaulted: Int32 = 77

    /// A forked worker faults its own text, data and the shared record page anew and
    /// grows page tables for them; doing all of it once here, before the control
    /// snapshot, keeps that out of the mapping's deltas (DESIGN.md: the forked
    /// baseline is larger than a PMD page). Same calls, same loop, on 16 KiB of
    /// anonymous memory (4 MiB, 1,024 faults, was a third of a worker's fork-to-ready:
    /// the code is what must be faulted, not the memory); and a read in every 2 MiB
    /// region of the agent's own image, since fork copies no page tables of file
    /// mappings: a function the window calls for the first time can lie in a region of
    /// the (25 MiB, debug) binary that nothing before touched, and its PTE table, grown
    /// before the VmPTE reading, counted as one more PMD table per worker.
    private func rehearse() {
        record.clear()
        var touched: UInt64 = 0
        for address in imageRegions { touched &+= UInt64(UnsafePointer<UInt8>(bitPattern: address)!.pointee) }
        let length = 16 << 10
        var sum = Counters.vmPTE() &+ Counters.minorFaults() &+ Clock.monotonicNanoseconds() &+ touched
        if let scratch = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), scratch != MAP_FAILED {
            let bytes = scratch.bindMemory(to: UInt8.self, capacity: length)
            for offset in stride(from: 0, to: length, by: 4096) { bytes[offset] = 1; sum &+= UInt64(bytes[offset]) }
            UnsafeMutableRawPointer(bytes).storeBytes(of: Pattern.word(offset: UInt64(index), seed: sum), as: UInt64.self)
            sum &+= UnsafeMutableRawPointer(bytes).load(as: UInt64.self)
            munmap(scratch, length)
        }
        record[.rehearsalSum] = sum
        record[.vmPTEBefore] = Counters.vmPTE()
    }

    /// Signals this worker reached the phase, then waits for the parent's go.
    func barrier(_ phase: Int) {
        var byte: UInt8 = 1
        while write(ready, &byte, 1) < 0 && errno == EINTR {}
        while read(go[phase], &byte, 1) < 0 && errno == EINTR {}
        record[.barriersPassed] = UInt64(phase + 1)
    }
}

/// The counters a workload reads.
enum Counters {
    /// Global PageTables after folding the per-CPU deltas (vm/stat_refresh); without
    /// the refresh a read can be off by hundreds of KB.
    static func pageTables(notes: inout [String]) throws -> UInt64 {
        try snapshot(notes: &notes).pageTables
    }

    /// /proc/meminfo after the refresh, for snapshots that want more than PageTables.
    static func snapshot(notes: inout [String]) throws -> (pageTables: UInt64, memory: MemInfo) {
        do {
            try write("/proc/sys/vm/stat_refresh", "1")
        } catch {
            if !notes.contains(where: { $0.hasPrefix("vm/stat_refresh") }) { notes.append("vm/stat_refresh unavailable: counters may lag") }
        }
        let memory = MemInfo(text: try FileIO.readText("/proc/meminfo"))
        guard let value = memory.pageTables else {
            throw AgentFailure("workload", "/proc/meminfo has no PageTables line")
        }
        return (value, memory)
    }

    /// This process's VmPTE, read with no allocation: VmPTE is read on both sides of a
    /// measured window, and a reading that grows the heap into a fresh 2 MiB region adds
    /// a PTE table the window did not (the faults-are-pmds case failed 6 runs in 60 on
    /// xfs for it, its 4 MiB faulted as two PMDs all the same). 0 when unreadable.
    static func vmPTE() -> UInt64 {
        let fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        let buffer = statusBuffer
        var filled = 0
        while filled < buffer.count {
            let got = read(fd, buffer.baseAddress! + filled, buffer.count - filled)
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { break }
            filled += got
        }
        return ProcStatus.value(of: "VmPTE", in: UnsafeRawBufferPointer(rebasing: buffer[0..<filled])) ?? 0
    }

    /// Made and touched once, before any window: a forked worker's first reading (its
    /// rehearsal) takes its own copy of the page. /proc/self/status is about 1.5 KiB.
    nonisolated(unsafe) private static let statusBuffer: UnsafeMutableRawBufferPointer = {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 << 10, alignment: 4096)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        return buffer
    }()

    static func minorFaults() -> UInt64 {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return UInt64(usage.ru_minflt)
    }

    static func write(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { throw AgentFailure("workload", "open \(path): \(errnoText())") }
        defer { close(fd) }
        guard FileIO.writeAll(fd, Array(text.utf8)) else { throw AgentFailure("workload", "write \(path): \(errnoText())") }
    }
}
