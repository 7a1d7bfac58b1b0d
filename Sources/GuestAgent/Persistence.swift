import DaxRigProtocol
import FoundationEssentials
import Glibc
import GuestCore

/// `/init persist write|verify`: the two halves of a persistence check, one per boot on
/// the same backing file. The plan's task is `.persist(phase, specs)`; each phase
/// leaves one PersistenceReport per spec in the reports directory.
///
/// write: forked writers store the pattern in every 8-byte word of their stripe through
/// a DAX mapping and make it durable as the spec says (msync, or MAP_SYNC alone); the
/// plan then powers the guest off abruptly, so nothing else (sync, unmount, the file
/// system's own log writes) helps the data along. verify: reads every byte back.
enum Persistence {
    static func run(phase: String) -> Int32 {
        do {
            guard let phase = PersistenceReport.Phase(rawValue: phase) else {
                throw AgentFailure("persist", "unknown phase '\(phase)': use write or verify")
            }
            let plan = try JSONDecoder().decode(GuestPlan.self, from: Data(try FileIO.readBytes(GuestPlan.path)))
            guard case let .persist(planned, specs) = plan.task, planned == phase else {
                throw AgentFailure("persist", "the plan's task is not a persistence check's \(phase.rawValue) phase: it is \(plan.task?.name ?? "none")")
            }
            for (index, spec) in specs.enumerated() {
                let path = "\(plan.pmem.mountPoint)/\(spec.fileName)"
                print("persist \(phase.rawValue) \(index + 1)/\(specs.count): \(spec.name): \(spec.bytes >> 20) MiB, "
                    + "\(spec.writers) writers, \(spec.sync.rawValue), \(path)")
                let report = phase == .write ? try write(spec, path: path) : try verify(spec, path: path)
                try ReportFile.write(.persistence(report), index: index, name: spec.name, stage: "persist")
                print("persist \(phase.rawValue) \(spec.name): \(report.bytes) bytes, "
                    + (phase == .write ? "\(report.failedWriters) writers failed" : "\(report.mismatchedWords) words wrong")
                    + ", \((report.seconds * 10).rounded() / 10) s")
            }
            return 0
        } catch let failure as AgentFailure {
            print("persist failed at \(failure.stage): \(failure.message)")
            return 1
        } catch {
            print("persist failed: \(error)")
            return 1
        }
    }

    private static func write(_ spec: PersistenceSpec, path: String) throws -> PersistenceReport {
        let started = Clock.now()
        var notes: [String] = []
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw AgentFailure("persist", "create \(path): \(errnoText())") }
        guard SystemCalls.fallocate(fd, length: Int64(spec.fileBytes)) == 0 else {
            close(fd)
            throw AgentFailure("persist", "fallocate \(spec.fileBytes >> 20) MiB in \(path): \(errnoText())")
        }
        // The file's existence is metadata of the directory: made durable once, as an
        // application creating a file on pmem must.
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
        let dirfd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY)
        if dirfd < 0 || fsync(dirfd) != 0 || fsync(fd) != 0 { notes.append("fsync of the new file or its directory: \(errnoText())") }
        if dirfd >= 0 { close(dirfd) }

        if spec.rewrite {
            let failed = try rewrite(spec, fd: fd, notes: &notes)
            close(fd)
            return PersistenceReport(spec: spec, phase: .write, bytes: 2 * spec.bytes, failedWriters: failed,
                                     seconds: Clock.now() - started, notes: notes)
        }
        var children: [pid_t] = []
        for (offset, length) in spec.stripes {
            let pid = fork()
            if pid < 0 { throw AgentFailure("persist", "fork: \(errnoText())") }
            if pid == 0 { _exit(writeStripe(spec, fd: fd, offset: offset, length: length)) }
            children.append(pid)
        }
        close(fd)
        let failed = reap(children, role: "writer", notes: &notes)
        return PersistenceReport(spec: spec, phase: .write, bytes: spec.bytes, failedWriters: failed,
                                 seconds: Clock.now() - started, notes: notes)
    }

    /// Waits for every child; how many did not exit 0, each noted with what its status means.
    static func reap(_ children: [pid_t], role: String, notes: inout [String]) -> Int {
        var failed = 0
        for pid in children {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            if status != 0 {
                failed += 1
                let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                notes.append("\(role) \(pid) ended with status \(code): " + Self.writerFailure(code))
            }
        }
        return failed
    }

    /// Exit statuses of a writer, and what each means.
    private static func writerFailure(_ code: Int32) -> String {
        switch code {
        case 2: "mmap failed (MAP_SYNC needs a DAX file on a file system that supports it)"
        case 3: "msync failed"
        case 4: "its release pipe failed"
        case 5: "mmap put the file elsewhere than at 1 TiB"
        case 6: "it read words wrong through its own mapping after the rewrite"
        default: "killed or crashed"
        }
    }

    /// One writer: map the stripe, store the pattern in every word, make it durable.
    private static func writeStripe(_ spec: PersistenceSpec, fd: Int32, offset: UInt64, length: UInt64) -> Int32 {
        let flags = spec.sync == .mapSync ? SystemCalls.mapSharedValidate | SystemCalls.mapSync : MAP_SHARED
        guard let base = mmap(nil, Int(length), PROT_READ | PROT_WRITE, flags, fd, off_t(offset)), base != MAP_FAILED else { return 2 }
        let words = base.bindMemory(to: UInt64.self, capacity: Int(length / 8))
        let seed = spec.patternSeed
        for index in 0..<Int(length / 8) {
            words[index] = PersistenceSpec.pattern(offset: offset + UInt64(index) * 8, seed: seed)
        }
        if spec.sync == .msync, msync(base, Int(length), MS_SYNC) != 0 { return 3 }
        munmap(base, Int(length))
        return 0
    }

    private static func verify(_ spec: PersistenceSpec, path: String) throws -> PersistenceReport {
        let started = Clock.now()
        var notes: [String] = []
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            // A lost file is a verdict, not an error of the rig: every byte is missing.
            return PersistenceReport(spec: spec, phase: .verify, bytes: 0, mismatchedWords: spec.bytes / 8, firstMismatchOffset: 0,
                                     seconds: Clock.now() - started, notes: ["\(path) is missing after the power-off: \(errnoText())"])
        }
        defer { close(fd) }
        var info = stat()
        fstat(fd, &info)
        if UInt64(info.st_size) != spec.fileBytes { notes.append("\(path) is \(info.st_size) bytes, not \(spec.fileBytes)") }
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 8)
        defer { buffer.deallocate() }
        var offset = spec.checkedRange.lowerBound
        var mismatched: UInt64 = 0
        var first: UInt64?
        let seed = spec.checkedSeed
        while offset < spec.checkedRange.upperBound {
            let want = Int(min(UInt64(chunk), spec.checkedRange.upperBound - offset))
            var got = 0
            while got < want {
                let n = pread(fd, buffer + got, want - got, off_t(offset) + off_t(got))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                got += n
            }
            if got < want { buffer.advanced(by: got).initializeMemory(as: UInt8.self, repeating: 0, count: want - got) }
            let words = buffer.bindMemory(to: UInt64.self, capacity: want / 8)
            for index in 0..<(want / 8) where words[index] != PersistenceSpec.pattern(offset: offset + UInt64(index) * 8, seed: seed) {
                mismatched += 1
                if first == nil { first = offset + UInt64(index) * 8 }
            }
            offset += UInt64(want)
        }
        return PersistenceReport(spec: spec, phase: .verify, bytes: spec.bytes, mismatchedWords: mismatched, firstMismatchOffset: first,
                                 seconds: Clock.now() - started, notes: notes)
    }
}
