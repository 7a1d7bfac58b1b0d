import DaxRigProtocol

extension PersistenceSpec {
    /// The writers' stripes of the checked file: one per writer, each whole 2 MiB regions
    /// (so every writer's mapping can take PMD faults), the last taking the remainder.
    public var stripes: [(offset: UInt64, length: UInt64)] {
        let region: UInt64 = 2 << 20
        let writers = UInt64(max(1, self.writers))
        let stripe = max(region, bytes / writers / region * region)
        var result: [(offset: UInt64, length: UInt64)] = []
        var offset: UInt64 = 0
        while offset < bytes {
            let isLast = result.count == Int(writers) - 1
            let length = isLast ? bytes - offset : min(stripe, bytes - offset)
            result.append((offset, length))
            offset += length
        }
        return result
    }
}
