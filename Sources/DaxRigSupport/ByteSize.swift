import Foundation

/// Sizes as users type them: "2G", "512M", "1GiB", "4096" (bytes). Binary units
/// throughout: pmem and memory are sized in powers of two.
public enum ByteSize {
    public static func parse(_ text: String) throws -> UInt64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isNumber }
        var unit = trimmed.dropFirst(digits.count).uppercased()
        if unit.hasSuffix("IB") { unit.removeLast(2) } else if unit.hasSuffix("B") { unit.removeLast() }
        let shifts: [String: UInt64] = ["": 0, "K": 10, "M": 20, "G": 30, "T": 40]
        guard let value = UInt64(digits), let shift = shifts[unit] else {
            throw ByteSizeError(text: text)
        }
        let (result, overflow) = value.multipliedReportingOverflow(by: 1 << shift)
        guard !overflow else { throw ByteSizeError(text: text) }
        return result
    }

    /// A signed size, for deltas: "-8 KiB", "+1.5 MiB", "0 B".
    public static func formatSigned(_ bytes: Int64) -> String {
        bytes == 0 ? "0 B" : (bytes < 0 ? "-" : "+") + format(bytes.magnitude)
    }

    public static func format(_ bytes: UInt64) -> String {
        for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] as [(String, UInt64)] where bytes >= 1 << shift {
            let value = Double(bytes) / Double(UInt64(1) << shift)
            return value == value.rounded() ? "\(Int(value)) \(unit)" : String(format: "%.1f %@", value, unit)
        }
        return "\(bytes) B"
    }
}

/// A size that is not a number with an optional K, M, G or T suffix.
public struct ByteSizeError: RigError, Equatable {
    /// What the user can fix: exit 2.
    public var exitStatus: ExitStatus { .badInput }

    public var text: String
    public var description: String { "'\(text)' is not a size: write a number of bytes with an optional K, M, G or T (binary units), e.g. 2G or 512M" }
}
