import DaxRigProtocol

/// A forked worker's record in the mapping it shares with the agent: the worker writes
/// it, the agent reads it after the worker exited (or died, when FatalSignals' handler
/// wrote its last words). Named slots, so no reader counts words, and here in GuestCore
/// so the host's unit tests reach it.
public struct WorkerRecord {
    /// The words of the record, in this order in the mapping.
    public enum Slot: Int, CaseIterable, Sendable {
        case vmPTEBefore, vmPTEAfter, faults, faultNanoseconds, mismatches, mapErrno, faultSum, rehearsalSum
        /// A read-only worker's store probe: 0 not probed, 1 probing (with the worker's
        /// exit status Worker.probeFaulted: it faulted, as it must), 2 the store went through.
        case readOnlyStore
        /// The first wrong word: its file offset + 1 (0: none), what was read, and in
        /// which mapping.
        case mismatchOffset, mismatchFound, mismatchMapping
        /// Written by FatalSignals' handler as the worker dies: the signal, its si_code
        /// and si_addr; and how many barriers the worker had passed by then.
        case fatalSignal, fatalCode, fatalAddress, barriersPassed

        /// Words per record: the stride of the records mapping.
        public static let count = allCases.count
    }

    public let words: UnsafeMutablePointer<UInt64>
    public init(_ words: UnsafeMutablePointer<UInt64>) { self.words = words }

    public subscript(slot: Slot) -> UInt64 {
        get { words[slot.rawValue] }
        nonmutating set { words[slot.rawValue] = newValue }
    }

    public func clear() { for slot in Slot.allCases { self[slot] = 0 } }

    /// Keeps the first wrong word only: later ones say less about where the data went.
    public func noteMismatch(mapping: Int, fileOffset: UInt64, found: UInt64) {
        guard self[.mismatchOffset] == 0 else { return }
        self[.mismatchOffset] = fileOffset + 1
        self[.mismatchFound] = found
        self[.mismatchMapping] = UInt64(mapping)
    }

    /// The first wrong word, with where in the file its value belongs (the pattern names
    /// each word's offset), so a report can say "B read A's data".
    public func firstMismatch(seed: UInt64, fileBytes: UInt64) -> WordMismatch? {
        guard self[.mismatchOffset] > 0 else { return nil }
        let found = self[.mismatchFound]
        return WordMismatch(mapping: Int(self[.mismatchMapping]), fileOffset: self[.mismatchOffset] - 1, found: found,
                            foundOffset: Pattern.offset(of: found, seed: seed, below: fileBytes))
    }

    /// What FatalSignals' handler left: nil when the worker did not die of a signal.
    public var fatalSignal: FatalSignal? {
        guard self[.fatalSignal] != 0 else { return nil }
        return FatalSignal(signal: Int32(truncatingIfNeeded: self[.fatalSignal]), code: Int32(truncatingIfNeeded: self[.fatalCode]),
                           address: self[.fatalAddress], barriersPassed: Int(self[.barriersPassed]))
    }
}
