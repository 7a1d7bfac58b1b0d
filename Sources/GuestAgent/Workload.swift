import DaxRigProtocol
import FoundationEssentials
import Glibc

/// `/init workload`: runs the plan's workloads and then its stress runs (its payload,
/// a WorkloadPayload) one after another and leaves one WorkloadReport or StressReport
/// JSON per run in the reports directory, which the agent sends to the host.
///
/// Measuring page tables has traps (DESIGN.md): the global counter is read only
/// after vm/stat_refresh and only while every worker is alive and waiting at a
/// barrier; per-process VmPTE is read before and after mapping, never as an absolute.
enum Workload {
    static func run() -> Int32 {
        do {
            let plan = try JSONDecoder().decode(GuestPlan.self, from: Data(try FileIO.readBytes(GuestPlan.path)))
            guard let payload = plan.payload else { throw AgentFailure("workload", "the plan has no workloads in its payload") }
            let runs = try JSONDecoder().decode(WorkloadPayload.self, from: Data(payload.utf8))
            let specs = runs.workloads
            for (index, spec) in specs.enumerated() {
                let megabytes = spec.mappingBytes >> 20
                let what = "\(spec.backing.rawValue), \(spec.processes) processes x \(megabytes) MiB"
                print("workload \(index + 1)/\(specs.count): \(spec.name): " + what)
                let report = try WorkloadRun(spec: spec, mountPoint: plan.pmem.mountPoint).run()
                try ReportFile.write(report, index: index, name: spec.name, stage: "workload")
            }
            for (index, spec) in runs.stress.enumerated() {
                print("stress \(index + 1)/\(runs.stress.count): \(spec.name): \(spec.backing.rawValue), \(spec.sharers) sharers, "
                    + "ops \(spec.ops.map(\.rawValue).joined(separator: " ")), \(spec.bytes >> 20) MiB, soak \(spec.soakSeconds) s")
                let report = try StressRun(spec: spec, mountPoint: plan.pmem.mountPoint).run()
                try ReportFile.write(report, index: specs.count + index, name: spec.name, stage: "stress")
                print("stress \(spec.name): " + report.iterations.map { "\($0.role) \($0.count)" }.joined(separator: ", ")
                    + " iterations; \(report.wordsVerified) words checked, \(report.mismatches) wrong, \(report.failedCalls) failed calls")
            }
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

    /// Per worker, in a shared anonymous mapping: the fields of WorkloadReport.Worker.
    static let recordWords = 8

    func run() throws -> WorkloadReport {
        let stripe = (spec.mappingBytes / UInt64(max(1, spec.processes))) & ~UInt64(4095)
        let writable = spec.access != .readSparse
        var report = try measured(barriers: 1) { worker, _, mapped in
            worker.record[4] = worker.checkStripes(mapped, stripe: stripe)
            return true
        }
        report.patternWords = writable ? stripe / 4096 : 0
        if !writable { report.notes.append("read-only access: no data pattern written or verified") }
        return report
    }

    /// The measured frame of every many-process run (workloads and stress runs): creates
    /// the file, forks the workers, and takes the PageTables snapshots before forking,
    /// with every worker alive and nothing mapped (control), with everything mapped, and
    /// after every worker exited. Between the mapped snapshot and unmapping, each worker
    /// runs `work` in its own process on its file descriptor and mapping (nil when mmap
    /// failed); `work` passes `barriers` more barriers (Worker.barrier(2), (3), ...), at
    /// each of which the parent waits for every worker, and returns whether the
    /// worker's own checks held.
    func measured(barriers: Int, work: (Worker, Int32, UnsafeMutablePointer<UInt8>?) -> Bool) throws -> WorkloadReport {
        let started = Clock.now()
        var notes: [String] = []
        var alignedRegions: UInt64?
        let path = try prepareFile(notes: &notes, alignedRegions: &alignedRegions)
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
                let status = Worker(spec: spec, path: path, index: index, record: record, ready: ready.write, go: gates).run(work: work)
                _exit(status)
            }
            group.add(pid)
        }
        group.await(0..<n)
        let control = try Counters.pageTables(notes: &notes)
        first.release(1)                   // worker 0 maps and faults alone
        group.await(0..<1)
        go[0].release(n - 1)               // then every other worker
        group.await(1..<n)
        let (mapped, mappedMemory) = try Counters.snapshot(notes: &notes)
        let memory = mappedMemory.bytes
        let pmdFaults = trace?.stop()
        for phase in 1...(barriers + 1) {  // the work's barriers, then unmapped
            go[phase].release(n)
            group.await(0..<n)
        }
        go[barriers + 2].release(n)        // exit
        let statuses = group.statuses()
        let final = try Counters.pageTables(notes: &notes)
        if spec.backing != .tmpfs { unlink(path) }

        let workers = (0..<n).map { index -> WorkloadReport.Worker in
            let r = words + index * Self.recordWords
            return .init(vmPTEBefore: r[0], vmPTEAfter: r[1], faults: r[2], faultNanoseconds: r[3], mismatches: r[4],
                         mapErrno: Int32(truncatingIfNeeded: r[5]), exitStatus: statuses[index])
        }
        for (index, status) in statuses.enumerated() where status > 128 {
            notes.append("worker \(index) was killed by signal \(status - 128) (\(String(cString: strsignal(status - 128))))")
        }
        return WorkloadReport(spec: spec, preFork: preFork, control: control, mapped: mapped, final: final, workers: workers,
                              patternWords: 0, seconds: Clock.now() - started, notes: notes,
                              memTotal: memory["MemTotal"], alignedRegions: alignedRegions, pmdFaults: pmdFaults,
                              memUsedMapped: memory["MemTotal"].flatMap { total in memory["MemAvailable"].map { total > $0 ? total - $0 : 0 } })
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
            let pages = (spec.mappingBytes + (2 << 20) - 1) / (2 << 20)
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
        let size = off_t(spec.mappingBytes)
        if spec.access == .readSparse || spec.backing == .hugetlbfs || spec.backing == .tmpfs {
            guard ftruncate(fd, size) == 0 else { throw AgentFailure("workload", "ftruncate \(path): \(errnoText())") }
        } else {
            let result = SystemCalls.fallocate(fd, length: Int64(size))
            guard result == 0 else { throw AgentFailure("workload", "fallocate \(spec.mappingBytes >> 20) MiB in \(path): \(errnoText())") }
            if spec.backing.pmemFileSystem != nil {
                if let map = ExtentMap.read(fd: fd, length: spec.mappingBytes) {
                    let (aligned, regions) = map.alignedRegions(length: spec.mappingBytes)
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
    let spec: WorkloadSpec
    let path: String
    let index: Int
    let record: UnsafeMutablePointer<UInt64>
    let ready: Int32
    let go: [Int32]

    /// Maps and faults at barrier 0, runs `work` after the mapped snapshot (barrier 1),
    /// unmaps, and waits at the last barrier for the parent's go to exit.
    func run(work: (Worker, Int32, UnsafeMutablePointer<UInt8>?) -> Bool) -> Int32 {
        let length = Int(spec.mappingBytes)
        let writable = spec.access != .readSparse
        let fd = open(path, writable ? O_RDWR : O_RDONLY)
        rehearse()
        barrier(0)
        let mapped = mapAndFault(fd: fd, writable: writable)
        barrier(1)
        let held = work(self, fd, mapped)
        if let mapped { munmap(mapped, length) }
        if fd >= 0 { close(fd) }
        barrier(go.count - 1)
        return record[5] == 0 && record[4] == 0 && held ? 0 : 1
    }

    /// Maps the file at the spec's address and faults it in as the spec's access says,
    /// recording VmPTE before and after, the faults, their time and mmap's errno.
    private func mapAndFault(fd: Int32, writable: Bool) -> UnsafeMutablePointer<UInt8>? {
        let length = Int(spec.mappingBytes)
        record[0] = Counters.vmPTE()
        let faultsBefore = Counters.minorFaults()
        let t0 = Clock.monotonicNanoseconds()
        var flags = MAP_SHARED | SystemCalls.mapFixedNoReplace  // the same fresh address in every worker
        // MAP_SHARED_VALIDATE | MAP_SYNC | MAP_FIXED: 6.1 validates against a mask that
        // lacks MAP_FIXED_NOREPLACE (EOPNOTSUPP); nothing else lives at our address.
        if spec.mapSync { flags = SystemCalls.mapSharedValidate | SystemCalls.mapSync | MAP_FIXED }
        let base = mmap(UnsafeMutableRawPointer(bitPattern: UInt(spec.mapAddress)), length,
                        writable ? PROT_READ | PROT_WRITE : PROT_READ, flags, fd, 0)
        var mapped: UnsafeMutablePointer<UInt8>?
        if let base, base != MAP_FAILED {
            mapped = base.bindMemory(to: UInt8.self, capacity: length)
            record[5] = 0
        } else {
            record[5] = UInt64(errno)
        }
        var sum: UInt64 = 0
        if let bytes = mapped {
            switch spec.access {
            case .writePer2M: for offset in stride(from: 0, to: length, by: 2 << 20) { bytes[offset] = 1 }
            case .readSparse: for offset in stride(from: 0, to: length, by: 2 << 20) { sum &+= UInt64(bytes[offset]) }
            case .every4K: for offset in stride(from: 0, to: length, by: 4096) { bytes[offset] = 1 }
            }
        }
        record[3] = Clock.monotonicNanoseconds() - t0
        record[2] = Counters.minorFaults() - faultsBefore
        record[1] = Counters.vmPTE()
        record[6] = sum
        return mapped
    }

    /// A workload's integrity check: each worker writes its own pattern, one word per
    /// 4 KiB of its stripe; after everyone wrote (barrier 2), checks its successor's
    /// stripe in full and the first word of up to 64 other stripes. Returns the words
    /// found wrong.
    func checkStripes(_ mapped: UnsafeMutablePointer<UInt8>?, stripe: UInt64) -> UInt64 {
        let n = spec.processes
        guard spec.access != .readSparse, let bytes = mapped, stripe >= 8 else {
            barrier(2)
            return 0
        }
        let words = UnsafeMutableRawPointer(bytes)
        for page in stride(from: UInt64(0), to: stripe, by: 4096) {
            let offset = UInt64(index) * stripe + page
            words.storeBytes(of: Self.pattern(worker: index, offset: offset), toByteOffset: Int(offset), as: UInt64.self)
        }
        barrier(2)
        var mismatches: UInt64 = 0
        let successor = (index + 1) % n
        for page in stride(from: UInt64(0), to: stripe, by: 4096) {
            let offset = UInt64(successor) * stripe + page
            if words.load(fromByteOffset: Int(offset), as: UInt64.self) != Self.pattern(worker: successor, offset: offset) { mismatches += 1 }
        }
        let step = max(1, n / 64)
        for other in stride(from: 0, to: n, by: step) where other != index && other != successor {
            let offset = UInt64(other) * stripe
            if words.load(fromByteOffset: Int(offset), as: UInt64.self) != Self.pattern(worker: other, offset: offset) { mismatches += 1 }
        }
        return mismatches
    }

    /// A forked worker faults its own text, data and the shared record page anew and
    /// grows page tables for them; doing all of it once here, before the control
    /// snapshot, keeps that out of the mapping's deltas (DESIGN.md: the forked
    /// baseline is larger than a PMD page). Same calls, same loop, on 4 MiB of
    /// anonymous memory.
    private func rehearse() {
        for field in 0..<WorkloadRun.recordWords { record[field] = 0 }
        let length = 4 << 20
        var sum = Counters.vmPTE() &+ Counters.minorFaults() &+ Clock.monotonicNanoseconds()
        if let scratch = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), scratch != MAP_FAILED {
            let bytes = scratch.bindMemory(to: UInt8.self, capacity: length)
            for offset in stride(from: 0, to: length, by: 4096) { bytes[offset] = 1; sum &+= UInt64(bytes[offset]) }
            UnsafeMutableRawPointer(bytes).storeBytes(of: Self.pattern(worker: index, offset: 0), as: UInt64.self)
            sum &+= UnsafeMutableRawPointer(bytes).load(as: UInt64.self)
            munmap(scratch, length)
        }
        record[7] = sum
        record[0] = Counters.vmPTE()
    }

    /// Signals this worker reached the phase, then waits for the parent's go.
    func barrier(_ phase: Int) {
        var byte: UInt8 = 1
        while write(ready, &byte, 1) < 0 && errno == EINTR {}
        while read(go[phase], &byte, 1) < 0 && errno == EINTR {}
    }

    static func pattern(worker: Int, offset: UInt64) -> UInt64 {
        (UInt64(worker) &+ 1) &* 0x9E37_79B9_7F4A_7C15 ^ offset
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

    static func vmPTE() -> UInt64 {
        (try? FileIO.readText("/proc/self/status")).flatMap { ProcStatus(text: $0).vmPTE } ?? 0
    }

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
