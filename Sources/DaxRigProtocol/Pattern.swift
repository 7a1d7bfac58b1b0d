/// The words daxrig stores and checks in a file: a pure function of the byte offset
/// and a per-run seed. Any process can check any word without asking its writer, and a
/// zeroed block, a stale block or another run's file all read back wrong.
public enum Pattern {
    /// The per-run part (FNV-1a of the run's name), computed once per run.
    public static func seed(_ name: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return hash
    }

    /// The word stored at byte `offset`.
    @inlinable
    public static func word(offset: UInt64, seed: UInt64) -> UInt64 {
        (offset &+ 1) &* 0x9E37_79B9_7F4A_7C15 ^ seed
    }
}
