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

/// `--host` (issue 19): jobs placed on several hosts, a lost host's jobs run once more elsewhere.
@Suite struct JobPoolHostTests {
    final class Log: @unchecked Sendable {
        let lock = NSLock()
        var runs: [(item: Int, host: String)] = []
        var now: [String: Int] = [:], peak: [String: Int] = [:]
        func add(_ item: Int, _ host: String) { lock.lock(); runs.append((item, host)); lock.unlock() }
        func enter(_ host: String) { lock.lock(); now[host, default: 0] += 1; peak[host] = max(peak[host] ?? 0, now[host]!); lock.unlock() }
        func leave(_ host: String) { lock.lock(); now[host, default: 0] -= 1; lock.unlock() }
    }

    static let a = JobPool.Host(uri: "qemu+tcp://a/system", jobs: 1, memoryBudget: 100)
    static let b = JobPool.Host(uri: "qemu+tcp://b/system", jobs: 2, memoryBudget: 100)

    @Test func everyHostTakesJobsUpToItsOwnJobs() {
        let log = Log()
        let outputs = JobPool(hosts: [Self.a, Self.b]).run((0..<9).map { (UInt64(10), $0) }) { item, host in
            log.add(item, host.uri!)
            log.enter(host.uri!)
            usleep(20_000)
            log.leave(host.uri!)
            return (item, false)
        }
        #expect(outputs == Array(0..<9))
        #expect(log.peak[Self.a.uri!] == 1 && (log.peak[Self.b.uri!] ?? 0) <= 2, "\(log.peak)")
        #expect(Set(log.runs.map(\.host)) == [Self.a.uri!, Self.b.uri!])
    }

    @Test func aJobLostWithItsHostRunsOnceMoreElsewhereAndTheHostGetsNoMore() {
        let log = Log()
        let outputs = JobPool(hosts: [Self.a, Self.b]).run((0..<6).map { (UInt64(10), $0) }) { item, host in
            log.add(item, host.uri!)
            usleep(10_000)
            // Host a goes away under the first job it runs.
            let lost = host == Self.a
            return (lost ? -item - 1 : item, lost)
        }
        #expect(outputs == Array(0..<6), "every job's last output is its run on b")
        let onA = log.runs.filter { $0.host == Self.a.uri! }
        #expect(onA.count == 1, "a lost host gets no more jobs: \(log.runs)")
        #expect(log.runs.filter { $0.item == onA[0].item }.map(\.host) == [Self.a.uri!, Self.b.uri!])
    }

    @Test func aJobLostOnEveryHostKeepsItsLastOutputAndIsNotTriedAThirdTime() {
        let log = Log()
        let c = JobPool.Host(uri: "qemu+tcp://c/system", jobs: 1, memoryBudget: 100)
        let outputs = JobPool(hosts: [Self.a, Self.b, c]).run([(UInt64(10), 7)]) { item, host in
            log.add(item, host.uri!)
            return (-1, true)
        }
        #expect(outputs == [-1])
        #expect(log.runs.count == 2, "once more, not once per host: \(log.runs)")
    }

    /// With every host lost, the jobs not started yet are not started at all: they have
    /// no output (the matrix calls such a cell ERROR, "not run").
    @Test func jobsNoHostIsLeftForAreNotRunAndHaveNoOutput() {
        let log = Log()
        let outputs = JobPool(hosts: [Self.a]).run((0..<3).map { (UInt64(10), $0) }) { item, host in
            log.add(item, host.uri!)
            return (item, true)
        }
        #expect(outputs == [0] && log.runs.count == 1, "\(outputs) \(log.runs)")
    }

    /// A job the small idle host cannot hold waits for the busy big one rather than be
    /// refused on the small one; only a job no host holds runs alone over a budget.
    @Test func aJobWaitsForTheHostThatHoldsItRatherThanRunAloneWhereItDoesNot() {
        let small = JobPool.Host(uri: "qemu+tcp://small/system", jobs: 1, memoryBudget: 50)
        let big = JobPool.Host(uri: "qemu+tcp://big/system", jobs: 1, memoryBudget: 500)
        let log = Log()
        _ = JobPool(hosts: [small, big]).run([(UInt64(400), 0), (UInt64(400), 1), (UInt64(900), 2)]) { item, host in
            log.add(item, host.uri!)
            usleep(20_000)
            return (0, false)
        }
        #expect(log.runs.filter { $0.item < 2 }.allSatisfy { $0.host == big.uri! }, "\(log.runs)")
        #expect(log.runs.count == 3)
    }

    @Test func aBigJobGoesWhereTheMemoryIs() {
        let small = JobPool.Host(uri: "qemu+tcp://small/system", jobs: 2, memoryBudget: 50)
        let big = JobPool.Host(uri: "qemu+tcp://big/system", jobs: 2, memoryBudget: 500)
        let log = Log()
        _ = JobPool(hosts: [small, big]).run([(UInt64(400), 0)]) { item, host in log.add(item, host.uri!); return (0, false) }
        #expect(log.runs.map(\.host) == [big.uri!])
    }
}
