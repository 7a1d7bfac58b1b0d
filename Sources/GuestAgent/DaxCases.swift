import Glibc

/// `/init dax-cases [DIR]`: the DAX cases upstream keeps in ndctl's test/dax-pmd.c and in
/// fstests' dax group, written again as daxrig's own (nothing copied), printing KTAP for
/// a `[[suite]]` (kernels/specs/dax-suites.toml). Each maps a file on the FS/DAX mount
/// 2 MiB-aligned, so the kernel can use PMDs, and checks the data through another path
/// than the one that wrote it. The first case checks that the faults are PMDs at all.
enum DaxCases {
    typealias Case = (name: String, run: @Sendable (String) throws -> [String])

    static let size = 4 << 20

    static let cases: [Case] = [
        ("faults-are-pmds", faultsArePmds),
        ("fork-after-pmd-fault", forkAfterFault),
        ("odirect-read-into-dax-mapping", directReadIntoMapping),
        ("odirect-write-from-dax-mapping", directWriteFromMapping),
        ("read-only-pmd-to-read-write", readOnlyToReadWrite),
        ("map-sync", mapSync),
        ("map-sync-refused-off-dax", mapSyncOffDax),
    ]

    /// O_DIRECT (fcntl-linux.h, x86_64), which Glibc's module leaves out.
    static let oDirect: Int32 = 0o40000

    /// Runs every case, or only those named in `only` (a developer repeating one).
    static func run(directory: String, only: [String] = []) -> Int32 {
        if let unknown = only.first(where: { name in !cases.contains { $0.name == name } }) {
            emit("Bail out! no DAX case named \(unknown); the cases: \(cases.map(\.name).joined(separator: ", "))")
            return 2
        }
        let chosen = only.isEmpty ? cases : cases.filter { only.contains($0.name) }
        emit("KTAP version 1\n1..\(chosen.count)")
        var failed = false
        for (index, item) in chosen.enumerated() {
            do {
                for line in try item.run(directory + "/dax-case-\(index + 1)") { emit("# \(item.name): \(line)") }
                emit("ok \(index + 1) \(item.name)")
            } catch let skip as DaxSkip {
                emit("ok \(index + 1) \(item.name) # SKIP \(skip.reason)")
            } catch let failure as AgentFailure {
                emit("# \(item.name): \(failure.stage): \(failure.message)")
                emit("not ok \(index + 1) \(item.name)")
                failed = true
            } catch {
                emit("not ok \(index + 1) \(item.name)")
                failed = true
            }
        }
        return failed ? 1 : 0
    }

    /// A line straight to stdout with write(2): a case that crashes the kernel must find
    /// the lines before it already in the agent's pipe, not in a stdio buffer.
    static func emit(_ line: String) { _ = FileIO.writeAll(1, Array((line + "\n").utf8)) }

    // MARK: the cases

    /// The cases below claim PMD faults; this one checks that they are. The file is
    /// mapped at a 1 GiB boundary and its first 2 MiB written first, which makes the
    /// PUD and PMD tables the rest shares. Writing the next 4 MiB then costs, per 2 MiB
    /// region, one fault and no page table as a PMD, or 512 faults and one PTE table as
    /// PTEs: two witnesses, which must agree. Whether a region can be a PMD is the file
    /// system's doing (FIEMAP: one run of blocks at a 2 MiB-aligned address), so the
    /// kernel is judged against the file's own layout: a region that could be a PMD and
    /// fell back fails, and so does one that could not and did not. xfs (mkfs'd with
    /// 2 MiB stripes) aligns them; ext4 often not, and where no region could be a PMD
    /// there is nothing to judge (SKIP).
    static func faultsArePmds(_ path: String) throws -> [String] {
        let length = size + (2 << 20)
        let file = try DaxFile(path, size: length)
        let map = try file.map(PROT_READ | PROT_WRITE, alignment: 1 << 30)
        defer { munmap(map, length) }
        fill(map, 0, 2 << 20, seed: 7)
        let faultsBefore = Counters.minorFaults()
        let grown = try vmPTEGrowth { fill(map, 2 << 20, size, seed: 7) }
        let faults = Counters.minorFaults() - faultsBefore
        guard let layout = ExtentMap.read(fd: file.fd, length: UInt64(length)) else {
            throw DaxSkip(reason: "FIEMAP unavailable: which regions could be PMDs is unknown")
        }
        let regions = layout.regionAlignment(length: UInt64(length)).dropFirst()
        let couldBe = regions.filter { $0 }.count, cannotBe = regions.count - couldBe
        // A region as PTEs takes 512 faults; as a PMD, one (a retry may add one more).
        let tables = grown / 4096, ptesByFaults = Int(faults) / 512
        let told = "\(size >> 20) MiB: page tables grew \(grown) bytes (\(tables) PTE tables), \(faults) faults "
            + "(\(ptesByFaults) regions' worth of PTEs); \(couldBe) of its \(regions.count) 2 MiB regions could be PMDs "
            + "(extents: \(layout.summary))"
        guard grown == tables * 4096, tables == ptesByFaults else {
            throw AgentFailure("pmd", told + ": the page tables and the faults disagree")
        }
        guard tables == cannotBe else {
            throw AgentFailure("pmd", told + (tables > cannotBe
                ? ": a region that could be a PMD fell back to PTEs" : ": a region that cannot be a PMD was mapped without PTEs"))
        }
        guard couldBe > 0 else { throw DaxSkip(reason: "the file system aligned no region: \(told)") }
        return [told, "every region that could be a PMD was one"]
    }

    /// A PMD faulted in before fork: the child sees the parent's data and its writes land
    /// in the file the parent maps (MAP_SHARED), through tables fork copied or shared.
    static func forkAfterFault(_ path: String) throws -> [String] {
        let file = try DaxFile(path, size: size)
        let map = try file.map(PROT_READ | PROT_WRITE)
        defer { munmap(map, size) }
        fill(map, 0, size, seed: 1)
        let child = fork()
        if child == 0 {
            guard check(map, 0, size, seed: 1) == nil else { _exit(3) }
            fill(map, size / 2, size / 2, seed: 2)
            _exit(0)
        }
        guard child > 0 else { throw AgentFailure("fork", errnoText()) }
        var status: Int32 = 0
        waitpid(child, &status, 0)
        guard status == 0 else { throw AgentFailure("child", "the child found the parent's data wrong or failed (wait status \(status))") }
        if let bad = check(map, 0, size / 2, seed: 1) ?? check(map, size / 2, size / 2, seed: 2) { throw AgentFailure("data", bad) }
        return ["the child read the parent's data, and its writes are in the parent's mapping"]
    }

    /// O_DIRECT read from one file into a DAX mapping of another (ndctl's dax-pmd
    /// direct-I/O case, fstests generic/413): GUP of DAX pages as the I/O buffer.
    static func directReadIntoMapping(_ path: String) throws -> [String] {
        let source = try DaxFile(path + "-src", size: size)
        try source.writePattern(seed: 3)
        let target = try DaxFile(path, size: size)
        let map = try target.map(PROT_READ | PROT_WRITE)
        defer { munmap(map, size) }
        fill(map, 0, size, seed: 9)
        let fd = open(source.path, O_RDONLY | oDirect)
        guard fd >= 0 else { throw AgentFailure("open O_DIRECT", errnoText()) }
        defer { close(fd) }
        let got = pread(fd, map, size, 0)
        guard got == size else { throw AgentFailure("pread O_DIRECT", got < 0 ? errnoText() : "\(got) of \(size) bytes") }
        if let bad = check(map, 0, size, seed: 3) { throw AgentFailure("data", bad) }
        if let bad = try target.checkPattern(seed: 3) { throw AgentFailure("file", bad) }
        return ["\(size) bytes read O_DIRECT into the mapping, in the mapping and in its file"]
    }

    /// O_DIRECT write from a DAX mapping to another file.
    static func directWriteFromMapping(_ path: String) throws -> [String] {
        let source = try DaxFile(path + "-src", size: size)
        let map = try source.map(PROT_READ | PROT_WRITE)
        defer { munmap(map, size) }
        fill(map, 0, size, seed: 4)
        let target = try DaxFile(path, size: size)
        let fd = open(target.path, O_WRONLY | oDirect)
        guard fd >= 0 else { throw AgentFailure("open O_DIRECT", errnoText()) }
        defer { close(fd) }
        let put = pwrite(fd, map, size, 0)
        guard put == size else { throw AgentFailure("pwrite O_DIRECT", put < 0 ? errnoText() : "\(put) of \(size) bytes") }
        if let bad = try target.checkPattern(seed: 4) { throw AgentFailure("file", bad) }
        return ["\(size) bytes written O_DIRECT from the mapping are in the other file"]
    }

    /// Read faults first (read-only entries, the zero page over unwritten blocks), then
    /// mprotect to read-write and write: each write must become a write fault that maps
    /// the file's own blocks, or the data goes nowhere.
    static func readOnlyToReadWrite(_ path: String) throws -> [String] {
        let file = try DaxFile(path, size: size)
        let map = try file.map(PROT_READ)
        defer { munmap(map, size) }
        var sum = 0
        for offset in stride(from: 0, to: size, by: 4096) { sum &+= Int(map.load(fromByteOffset: offset, as: UInt8.self)) }
        guard sum == 0 else { throw AgentFailure("read", "a new file read back nonzero bytes") }
        guard mprotect(map, size, PROT_READ | PROT_WRITE) == 0 else { throw AgentFailure("mprotect", errnoText()) }
        fill(map, 0, size, seed: 5)
        guard msync(map, size, MS_SYNC) == 0 else { throw AgentFailure("msync", errnoText()) }
        if let bad = try file.checkPattern(seed: 5) { throw AgentFailure("file", bad) }
        return ["read-only faults, mprotect, then writes: all in the file"]
    }

    /// MAP_SHARED_VALIDATE | MAP_SYNC on DAX: allowed, and stores are in the file with no msync.
    static func mapSync(_ path: String) throws -> [String] {
        let file = try DaxFile(path, size: size)
        let map = try file.map(PROT_READ | PROT_WRITE, flags: SystemCalls.mapSharedValidate | SystemCalls.mapSync)
        defer { munmap(map, size) }
        fill(map, 0, size, seed: 6)
        if let bad = try file.checkPattern(seed: 6) { throw AgentFailure("file", bad) }
        return ["MAP_SYNC mapping granted; its stores read back through pread without msync"]
    }

    /// MAP_SYNC where DAX is not (tmpfs): EOPNOTSUPP, never a mapping that only looks synchronous.
    static func mapSyncOffDax(_: String) throws -> [String] {
        let file = try DaxFile("/tmp/dax-case-map-sync", size: 2 << 20)
        defer { unlink(file.path) }
        let map = mmap(nil, 2 << 20, PROT_READ | PROT_WRITE, SystemCalls.mapSharedValidate | SystemCalls.mapSync, file.fd, 0)
        if map != MAP_FAILED { munmap(map, 2 << 20) }
        guard map == MAP_FAILED, errno == EOPNOTSUPP else {
            throw AgentFailure("mmap", map == MAP_FAILED ? "refused with \(errnoText()), not EOPNOTSUPP" : "tmpfs granted MAP_SYNC")
        }
        return ["tmpfs refused MAP_SYNC with EOPNOTSUPP"]
    }
}
