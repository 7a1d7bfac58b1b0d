import DaxRigProtocol
import DaxRigMachine
import GuestCore
import Testing

/// The guest agent's pure logic, run on the host: what the agent makes of what the
/// guest's kernel and tools print, and how it lays out its work.
@Suite struct GuestCoreTests {
    @Test func mountTableUndoesOctalEscapesAndSkipsShortLines() {
        let text = """
            /dev/pmem0 /mnt/pmem\\040dir xfs rw,relatime,dax=always 0 0
            broken line
            tmpfs /tmp tmpfs rw 0 0
            """
        let table = MountEntry.parseTable(text)
        #expect(table == [
            MountEntry(source: "/dev/pmem0", mountPoint: "/mnt/pmem dir", type: "xfs", options: ["rw", "relatime", "dax=always"]),
            MountEntry(source: "tmpfs", mountPoint: "/tmp", type: "tmpfs", options: ["rw"]),
        ])
        // A backslash that starts no octal escape stays as it is.
        #expect(MountEntry.parseTable("a b\\9x c d")[0].mountPoint == "b\\9x")
    }

    @Test func waitStatusesDecodeAsLinuxEncodesThem() {
        #expect(Termination(waitStatus: 0) == .exited(0))
        #expect(Termination(waitStatus: 3 << 8) == .exited(3))
        #expect(Termination(waitStatus: 9) == .signaled(9))
        #expect(Termination(waitStatus: 7 | 0x80) == .signaled(7))  // core dumped
        #expect(Termination(waitStatus: (19 << 8) | 0x7F) == nil)   // stopped, not ended
        #expect(Termination(waitStatus: 9)?.description == "killed by signal 9")
    }

    @Test(arguments: [(UInt64(64 << 20), 4), (UInt64(5 << 20), 4), (UInt64(2 << 20), 1), (UInt64((7 << 20) + 4096), 3)])
    func stripesCoverTheFileInWholeRegions(bytes: UInt64, writers: Int) {
        var spec = PersistenceSpec(name: "p", backing: .fsdaxXfs, bytes: bytes)
        spec.writers = writers
        let stripes = spec.stripes
        #expect(stripes.count <= writers)
        #expect(stripes.map(\.length).reduce(0, +) == bytes)
        #expect(zip(stripes, stripes.dropFirst()).allSatisfy { $0.offset + $0.length == $1.offset })
        // Every stripe starts on a 2 MiB boundary, so each writer can take PMD faults.
        #expect(stripes.allSatisfy { $0.offset % (2 << 20) == 0 })
    }

    @Test func ndctlPrintsOneNamespaceOrAnArray() {
        let one = #"{"dev":"namespace0.0","mode":"fsdax","blockdev":"pmem0"}"#
        #expect(NdctlNamespace.decode(one) == [NdctlNamespace(dev: "namespace0.0", mode: "fsdax", blockdev: "pmem0")])
        #expect(NdctlNamespace.decode("[\(one),\(one)]").count == 2)
        #expect(NdctlNamespace.decode("").isEmpty && NdctlNamespace.decode("error: no bus").isEmpty)
    }

    @Test func xfsIsMadeForPmdFaults() {
        #expect(PmemSetup.mkfsCommand(.xfs, device: "/dev/pmem0").contains("su=2m,sw=1"))
        #expect(PmemSetup.mkfsCommand(.ext4, device: "/dev/pmem0").first == "mkfs.ext4")
    }
}

/// The guest's OOM watch and the host's console scanner match the same kill lines.
@Suite struct KernelMessagesTests {
    @Test func aKmsgRecordOfAnOOMKillGivesItsLine() {
        let record = "3,1234,567890,-;Out of memory: Killed process 52 (init) total-vm:490600kB, anon-rss:458960kB\n SUBSYSTEM=x\n"
        #expect(KernelMessages.oomKill(inRecord: record) == "Out of memory: Killed process 52 (init) total-vm:490600kB, anon-rss:458960kB")
        #expect(KernelMessages.oomKill(inRecord: "4,1,2,-;Memory cgroup out of memory: Killed process 7 (x)") != nil)
    }

    @Test(arguments: ["6,1,2,-;init invoked oom-killer: gfp_mask=0x140cca", "6,1,2,-;daxrig: case begins: Out of memory: Killed process",
                      "Out of memory: Killed process 1 (no header)", "", "6,1,2,-;"])
    func otherRecordsAreNoKill(_ record: String) {
        #expect(KernelMessages.oomKill(inRecord: record) == nil)
    }

    @Test func theConsoleScannerFindsEveryKillLineTheGuestWatchesFor() {
        for line in KernelMessages.oomKills {
            let findings = ConsoleScanner.scan("[   12.5] \(line) 52 (init) total-vm:1kB\n")
            #expect(findings.map(\.kind) == [.oom], "\(line)")
        }
    }

    /// The record is shared memory between a worker and the agent: a slot read must be
    /// the slot written, the first wrong word must stay first, and a worker that did not
    /// die of a signal must not read as one.
    @Test func aWorkersRecordKeepsItsSlotsItsFirstMismatchAndItsFatalSignal() {
        let words = UnsafeMutablePointer<UInt64>.allocate(capacity: 2 * WorkerRecord.Slot.count)
        defer { words.deallocate() }
        words.initialize(repeating: 0xDEAD, count: 2 * WorkerRecord.Slot.count)
        let first = WorkerRecord(words), second = WorkerRecord(words + WorkerRecord.Slot.count)
        first.clear(); second.clear()
        #expect(WorkerRecord.Slot.count == 16)
        #expect(first.firstMismatch(seed: 1, fileBytes: 1 << 20) == nil)
        #expect(first.fatalSignal == nil)

        let seed = Pattern.seed("record")
        let elsewhere = Pattern.word(offset: 4096, seed: seed)
        first.noteMismatch(mapping: 1, fileOffset: 0, found: elsewhere)
        first.noteMismatch(mapping: 0, fileOffset: 8, found: 7)   // later words do not replace the first
        #expect(first.firstMismatch(seed: seed, fileBytes: 1 << 20)
                == WordMismatch(mapping: 1, fileOffset: 0, found: elsewhere, foundOffset: 4096))

        second[.fatalSignal] = 7; second[.fatalCode] = 2; second[.fatalAddress] = 0x7f00_0000_0000; second[.barriersPassed] = 3
        #expect(second.fatalSignal == FatalSignal(signal: 7, code: 2, address: 0x7f00_0000_0000, barriersPassed: 3))
        #expect(first.fatalSignal == nil)   // the neighbour's record is its own
        #expect(second[.mismatchOffset] == 0)
    }
}
