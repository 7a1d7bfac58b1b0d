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

    static let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// The word stored at byte `offset`.
    @inlinable
    public static func word(offset: UInt64, seed: UInt64) -> UInt64 {
        (offset &+ 1) &* 0x9E37_79B9_7F4A_7C15 ^ seed
    }

    /// The offset whose word `word` is, when it is a word of this run's pattern at an
    /// 8-byte-aligned offset below `limit`: a wrong word that names the place it came
    /// from tells a shifted mapping from lost data. The multiplier is odd, so the
    /// pattern is a bijection and this its inverse.
    public static func offset(of word: UInt64, seed: UInt64, below limit: UInt64) -> UInt64? {
        var inverse = multiplier  // Newton's iteration: each step doubles the correct low bits
        for _ in 0..<5 { inverse = inverse &* (2 &- multiplier &* inverse) }
        let offset = (word ^ seed) &* inverse &- 1
        return offset < limit && offset % 8 == 0 ? offset : nil
    }
}
