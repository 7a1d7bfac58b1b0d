import Foundation
import DaxRigSupport

/// Runs jobs on up to `jobs` threads at once, starting each (in order) only when the
/// memory it holds fits beside the ones running; a job alone always starts, so one too
/// big for the budget meets its own, clearer refusal. Stops starting jobs on Ctrl-C.
public final class JobPool: @unchecked Sendable {
    let jobs: Int
    let memoryBudget: UInt64
    private let condition = NSCondition()
    private var running = 0
    private var memoryHeld: UInt64 = 0
    private var next = 0

    public init(jobs: Int, memoryBudget: UInt64) {
        self.jobs = jobs
        self.memoryBudget = memoryBudget
    }

    public func run<Item: Sendable, Output: Sendable>(_ items: [(memory: UInt64, item: Item)], _ body: @escaping @Sendable (Item) -> Output) -> [Output] {
        let box = Slots<Output>(count: items.count)
        // Threads of our own: concurrentPerform would cap the jobs at the core count, and
        // a job mostly waits on a QEMU, not on a core of ours.
        let group = DispatchGroup()
        for _ in 0..<min(jobs, max(items.count, 1)) {
            group.enter()
            Thread {
                while let index = self.take(items.map(\.memory)) {
                    box.set(index, body(items[index].item))
                    self.release(items[index].memory)
                }
                group.leave()
            }.start()
        }
        group.wait()
        return box.values.compactMap { $0 }
    }

    private func take(_ memory: [UInt64]) -> Int? {
        condition.lock(); defer { condition.unlock() }
        while true {
            guard next < memory.count, !Cleanup.shared.interrupted else { return nil }
            if running == 0 || memoryHeld + memory[next] <= memoryBudget {
                running += 1
                memoryHeld += memory[next]
                next += 1
                return next - 1
            }
            condition.wait()
        }
    }

    private func release(_ memory: UInt64) {
        condition.lock()
        running -= 1
        memoryHeld -= memory
        condition.broadcast()
        condition.unlock()
    }

}

/// Results filled in by several threads, each in its own slot.
private final class Slots<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Value?]
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: Value) {
        lock.lock(); storage[index] = value; lock.unlock()
    }
    var values: [Value?] {
        lock.lock(); defer { lock.unlock() }
        return storage
    }
}
