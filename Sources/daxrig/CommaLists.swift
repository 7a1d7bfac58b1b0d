import ArgumentParser
import DaxRigProtocol

/// Options that take a comma-separated list, parsed when the arguments are: a bad item
/// is refused naming itself before anything runs.
enum CommaList {
    static func processCounts(_ text: String) throws -> [Int] {
        try items(text).map { item in
            guard let n = Int(item), (1...10_000).contains(n) else {
                throw ValidationError("--processes takes numbers from 1 to 10000, not '\(item)'")
            }
            return n
        }
    }

    static func backings(_ text: String) throws -> [WorkloadSpec.Backing] {
        try items(text).map { item in
            guard let backing = WorkloadSpec.Backing(rawValue: item) else {
                throw ValidationError("unknown backing '\(item)': use \(WorkloadSpec.Backing.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return backing
        }
    }

    static func names(_ text: String) throws -> [String] { try items(text) }

    private static func items(_ text: String) throws -> [String] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !items.isEmpty, !items.contains(where: \.isEmpty) else { throw ValidationError("'\(text)' has an empty item; give a comma-separated list") }
        return items
    }
}
