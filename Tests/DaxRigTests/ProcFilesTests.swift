import DaxRigProtocol
import Foundation
import Testing

/// On /proc files captured in a guest of the default kernel (after vm/stat_refresh).
@Suite struct ProcFilesTests {
    @Test func meminfoValuesAreBytesAndPageTablesIsThere() throws {
        let info = MemInfo(text: try Fixtures.text("proc-meminfo.txt"))
        #expect(info.pageTables == UInt64(88 * 1024))
        #expect(info.bytes["MemTotal"].map { $0 > 256 << 20 } == true)
        // Counts without a unit stay counts.
        #expect(info.bytes["HugePages_Total"] == UInt64(0))
        #expect(info.bytes["Hugepagesize"] == UInt64(2048 * 1024))
    }

    @Test func statusHasThisProcessesVmPTE() throws {
        let status = ProcStatus(text: try Fixtures.text("proc-status.txt"))
        #expect(status.vmPTE == UInt64(28 * 1024))
        #expect(status.bytes["VmRSS"] != nil)
    }

    @Test func vmstatCountersAreRead() throws {
        let stat = VmStat(text: try Fixtures.text("proc-vmstat.txt"))
        #expect(stat.counters["nr_page_table_pages"] == UInt64(9))
        #expect(stat.counters["nr_free_pages"].map { $0 > 0 } == true)
        // tinyconfig has no VM event counters: fault counts come from getrusage instead.
        #expect(stat.counters["pgfault"] == nil)
    }
}

@Suite struct PmdFaultCountsTests {
    /// The hist file of `hist:keys=result` on fs_dax:dax_pmd_fault_done, as captured in
    /// a guest of the default kernel with kernels/configs/tracing.config (ext4, 4 workers).
    @Test func histCountsNoPageAndFallbackByResultBits() throws {
        let counts = PmdFaultCounts(hist: try Fixtures.text("dax-pmd-fault-hist.txt"))
        #expect(counts.noPage > 0)
        #expect(counts.fallback > 0)
        #expect(counts.other == 0)
        #expect(counts.noPage + counts.fallback == 4 * 512)
    }

    @Test func resultBitsDecideTheClass() {
        let hist = """
            # event histogram
            { result:        256 } hitcount:         10
            { result:       2048 } hitcount:          3
            { result:       8192 } hitcount:          2
            { result:          2 } hitcount:          1

            Totals:
                Hits: 16
            """
        // 8192 = NEEDDSYNC (MAP_SYNC): the PMD is mapped after the sync.
        #expect(PmdFaultCounts(hist: hist) == PmdFaultCounts(noPage: 12, fallback: 3, other: 1))
    }
}

/// The guest's allocation-free VmPTE reading agrees with the text parser it stands in for.
@Suite struct ProcStatusRawTests {
    static func value(_ key: StaticString, _ text: String) -> UInt64? {
        Array(text.utf8).withUnsafeBytes { ProcStatus.value(of: key, in: $0) }
    }

    @Test func theFixturesVmPTEIsFound() throws {
        let text = try Fixtures.text("proc-status.txt")
        #expect(Self.value("VmPTE", text) == UInt64(28 * 1024))
        #expect(Self.value("VmRSS", text) == ProcStatus(text: text).bytes["VmRSS"])
    }

    @Test func aKeyIsMatchedWholeAndNumbersAreChecked() {
        #expect(Self.value("VmPTE", "VmPTEX:\t4 kB\nVmPTE:\t 8 kB\n") == 8192)
        #expect(Self.value("VmPTE", "XVmPTE:\t4 kB\n") == nil)
        #expect(Self.value("VmPTE", "VmPTE:\t\n") == nil)
        #expect(Self.value("VmPTE", "VmPTE:") == nil)
        #expect(Self.value("VmPTE", "") == nil)
        #expect(Self.value("Threads", "Threads:\t3") == 3)
        #expect(Self.value("VmPTE", "VmPTE:\t99999999999999999999 kB\n") == nil)
        #expect(Self.value("VmPTE", "VmPTE:\t18014398509481984 kB\n") == nil, "2^54 kB overflows bytes")
        #expect(Self.value("VmPTE", "VmPTE:\t7 kBytes\n") == 7)
    }

    /// Random status-like texts: the raw reading and `ProcStatus(text:)` agree on every key.
    @Test func agreesWithTheTextParserOnRandomStatusTexts() {
        var random = SystemRandomNumberGenerator()
        let keys = ["VmPTE", "VmRSS", "Threads", "Name", "VmPTEs"]
        for _ in 0..<2000 {
            var lines: [String] = []
            for _ in 0..<Int.random(in: 0...8, using: &random) {
                let key = keys.randomElement(using: &random)!
                let number = Bool.random(using: &random) ? String(UInt64.random(in: 0...(1 << 40), using: &random)) : "x1"
                let space = ["", " ", "\t", " \t "].randomElement(using: &random)!
                let unit = ["", " kB", "\tkB", " kBx", " MB", "kB", "x"].randomElement(using: &random)!
                lines.append("\(key):\(space)\(number)\(unit)")
            }
            let text = lines.joined(separator: "\n") + (Bool.random(using: &random) ? "\n" : "")
            // The text parser keeps the last line of a key; the kernel never repeats one.
            guard Set(lines.map { $0.prefix { $0 != ":" } }).count == lines.count else { continue }
            #expect(Self.value("VmPTE", text) == ProcStatus(text: text).vmPTE, "\(text)")
            #expect(Self.value("Threads", text) == ProcStatus(text: text).bytes["Threads"], "\(text)")
        }
    }
}
