import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigRun

/// `matrix --jobs`: cells at once, within the memory budget, results in order.
@Suite struct JobPoolTests {
    final class Gauge: @unchecked Sendable {
        let condition = NSCondition()
        var running = 0, peak = 0, memory: UInt64 = 0, peakMemory: UInt64 = 0
        /// Enters, then waits (at most a second) until `overlap` jobs run at once: a pool
        /// that runs them together gets there at once, however loaded the machine, and
        /// one that does not shows a lower peak. A fixed sleep (20 ms) made the peak a
        /// matter of how fast threads started.
        func enter(_ bytes: UInt64, overlap: Int) {
            condition.lock()
            running += 1; memory += bytes; peak = max(peak, running); peakMemory = max(peakMemory, memory)
            condition.broadcast()
            let deadline = Date().addingTimeInterval(1)
            while running < overlap, condition.wait(until: deadline) {}
            condition.unlock()
        }
        func leave(_ bytes: UInt64) { condition.lock(); running -= 1; memory -= bytes; condition.unlock() }
    }

    func run(jobs: Int, budget: UInt64, memory: [UInt64], overlap: Int = 1) -> (results: [Int], gauge: Gauge) {
        let gauge = Gauge()
        let results = JobPool(jobs: jobs, memoryBudget: budget).run(memory.enumerated().map { ($0.element, $0.offset) }) { index in
            gauge.enter(memory[index], overlap: overlap)
            usleep(2_000)
            gauge.leave(memory[index])
            return index * 10
        }
        return (results, gauge)
    }

    @Test func runsUpToJobsAtOnceAndKeepsTheOrder() {
        let (results, gauge) = run(jobs: 3, budget: 100, memory: Array(repeating: 10, count: 9), overlap: 3)
        #expect(results == (0..<9).map { $0 * 10 })
        #expect(gauge.peak == 3)
    }

    @Test func neverHoldsMoreMemoryThanTheBudgetUnlessAlone() {
        let (results, gauge) = run(jobs: 4, budget: 100, memory: [60, 60, 30, 30, 150, 10])
        #expect(results.count == 6)
        // The 150 job ran, alone; otherwise the 100 budget held.
        #expect(gauge.peakMemory == 150)
        let (_, small) = run(jobs: 4, budget: 100, memory: [60, 60, 30, 30, 10], overlap: 2)
        #expect(small.peakMemory <= 100)
        #expect(small.peak >= 2)
    }

    @Test func oneJobIsSequential() {
        #expect(run(jobs: 1, budget: 1 << 40, memory: [1, 1, 1, 1]).gauge.peak == 1)
    }
}
