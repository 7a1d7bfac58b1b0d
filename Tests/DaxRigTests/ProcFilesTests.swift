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
