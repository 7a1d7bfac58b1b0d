/// Who owns which 2 MiB stripe of a stress file. Each mutator has one scratch stripe
/// that it alone touches and may destroy; every other stripe is stable, owned by one
/// process (round robin, so every PMD table holds stripes of many owners) that writes
/// it, and checked by everyone. The truncate mutator's scratch stripe is the file's
/// last, the only part a truncate can cut without cutting anyone else's; the other
/// scratch stripes are spread over the file, so holes are punched in the middle.
public struct StressLayout: Sendable, Equatable {
    public static let stripeBytes: UInt64 = 2 << 20
    public static let stripeWords = Int(stripeBytes / 8)

    public let stripes: Int
    public let processes: Int
    /// Per stripe: the process that owns it.
    public let owners: [Int]
    /// Per process: its scratch stripe (mutators only).
    public let scratch: [Int?]

    /// Needs `stripes` >= processes + ops (one stable stripe per process, one scratch
    /// per mutator) and ops without repeats; TestSpec refuses anything else.
    public init(stripes: Int, sharers: Int, ops: [StressSpec.Op]) {
        let processes = sharers + ops.count
        precondition(stripes >= processes + ops.count && Set(ops).count == ops.count, "\(stripes) stripes cannot hold \(sharers) sharers and \(ops.count) mutators")
        var scratch = [Int?](repeating: nil, count: processes)
        let spread = ops.indices.filter { !ops[$0].cutsTheFile }
        for (rank, op) in spread.enumerated() {
            scratch[sharers + op] = (2 * rank + 1) * (stripes - 1) / (2 * spread.count)
        }
        if let truncate = ops.firstIndex(where: \.cutsTheFile) { scratch[sharers + truncate] = stripes - 1 }
        var owners = [Int](repeating: -1, count: stripes)
        for (process, stripe) in scratch.enumerated() { if let stripe { owners[stripe] = process } }
        var next = 0
        for stripe in 0..<stripes where owners[stripe] < 0 {
            owners[stripe] = next % max(1, processes)
            next += 1
        }
        self.stripes = stripes
        self.processes = processes
        self.owners = owners
        self.scratch = scratch
    }

    public func isScratch(_ stripe: Int) -> Bool { scratch[owners[stripe]] == stripe }
}

extension StressSpec.Op {
    /// Truncates the file short of its scratch stripe, which must therefore be the
    /// file's last (one such op per run: TestSpec refuses two).
    public var cutsTheFile: Bool { self == .truncate || self == .tlbTruncate }
}

extension StressLayout {
    /// The stripes everyone may check, in file order.
    public var stable: [Int] { (0..<stripes).filter { !isScratch($0) } }

    /// `process`'s own stable stripes, in file order.
    public func stable(of process: Int) -> [Int] { (0..<stripes).filter { owners[$0] == process && !isScratch($0) } }
}
