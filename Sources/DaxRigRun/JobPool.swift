import Foundation
import DaxRigSupport

/// Runs jobs on hosts, up to each host's `jobs` at once, starting each (in order) on
/// the host with the most memory to spare where it fits beside the jobs running there;
/// a job no host's budget holds starts alone on an idle host, so it meets its own,
/// clearer refusal. A job whose host was lost under it runs again, once, on another
/// host still up, and a lost host gets no more jobs. Stops starting jobs on Ctrl-C.
public final class JobPool: @unchecked Sendable {
    /// A place jobs run: a libvirt host (nil: this machine's libvirtd).
    public struct Host: Sendable, Equatable {
        public var uri: String?
        public var jobs: Int
        public var memoryBudget: UInt64
        public var cpus: Int

        public init(uri: String?, jobs: Int, memoryBudget: UInt64, cpus: Int = ProcessInfo.processInfo.activeProcessorCount) {
            self.uri = uri
            self.jobs = max(1, jobs)
            self.memoryBudget = memoryBudget
            self.cpus = cpus
        }
    }

    public let hosts: [Host]
    private let condition = NSCondition()
    private var running: [Int]
    private var held: [UInt64]
    private var lost: Set<Int> = []
    /// Jobs not started yet, in order; a job to run again goes first.
    private var pending: [Int] = []
    /// The hosts each job was lost on.
    private var lostOn: [Int: Set<Int>] = [:]

    public init(hosts: [Host]) {
        self.hosts = hosts
        running = Array(repeating: 0, count: hosts.count)
        held = Array(repeating: 0, count: hosts.count)
    }

    /// This machine alone.
    public convenience init(jobs: Int, memoryBudget: UInt64) {
        self.init(hosts: [Host(uri: nil, jobs: jobs, memoryBudget: memoryBudget)])
    }

    public func run<Item: Sendable, Output: Sendable>(_ items: [(memory: UInt64, item: Item)], _ body: @escaping @Sendable (Item) -> Output) -> [Output] {
        run(items) { item, _ in (body(item), false) }
    }

    /// `body` runs a job on a host and says whether the host was lost under it.
    public func run<Item: Sendable, Output: Sendable>(_ items: [(memory: UInt64, item: Item)],
                                                      _ body: @escaping @Sendable (Item, Host) -> (output: Output, hostLost: Bool)) -> [Output] {
        let box = Slots<Output>(count: items.count)
        condition.lock()
        pending = Array(items.indices)
        condition.unlock()
        let memory = items.map(\.memory)
        // Threads of our own: concurrentPerform would cap the jobs at the core count, and
        // a job mostly waits on a QEMU, not on a core of ours.
        let group = DispatchGroup()
        for _ in 0..<min(hosts.reduce(0) { $0 + $1.jobs }, max(items.count, 1)) {
            group.enter()
            Thread {
                while let (index, host) = self.take(memory) {
                    let (output, hostLost) = body(items[index].item, self.hosts[host])
                    box.set(index, output)
                    self.release(index, memory[index], on: host, lost: hostLost)
                }
                group.leave()
            }.start()
        }
        group.wait()
        return box.values.compactMap { $0 }
    }

    private func take(_ memory: [UInt64]) -> (Int, Int)? {
        condition.lock(); defer { condition.unlock() }
        while true {
            guard !Cleanup.shared.interrupted else { return nil }
            // A job no host still up can take (all lost, or lost on the rest) keeps the
            // output of its lost run.
            pending.removeAll { index in hosts.indices.allSatisfy { lost.contains($0) || lostOn[index, default: []].contains($0) } }
            guard let index = pending.first else { return nil }
            let open = hosts.indices.filter { !lost.contains($0) && !lostOn[index, default: []].contains($0) }
            // Alone on a host over its budget only when no host's budget holds the job:
            // one that some host holds waits for that host rather than be refused here.
            let fitsSomewhere = open.contains { memory[index] <= hosts[$0].memoryBudget }
            let usable = open.filter { host in
                running[host] < hosts[host].jobs
                    && (held[host] + memory[index] <= hosts[host].memoryBudget || (running[host] == 0 && !fitsSomewhere))
            }
            if let host = usable.max(by: { spare($0) < spare($1) }) {
                pending.removeFirst()
                running[host] += 1
                held[host] += memory[index]
                return (index, host)
            }
            // Nothing usable means some open host is busy (an idle open host always takes
            // the job): its release wakes us.
            condition.wait()
        }
    }

    private func spare(_ host: Int) -> Int64 { Int64(hosts[host].memoryBudget) - Int64(held[host]) }

    private func release(_ index: Int, _ memory: UInt64, on host: Int, lost hostLost: Bool) {
        condition.lock()
        running[host] -= 1
        held[host] -= memory
        if hostLost {
            lost.insert(host)
            // Once: a job lost on two hosts is not tried on a third.
            if lostOn[index] == nil { pending.insert(index, at: 0) }
            lostOn[index, default: []].insert(host)
        }
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
