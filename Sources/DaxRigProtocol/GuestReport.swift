#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One report of the guest, saying which kind it is: the host decodes it once, as what
/// it says it is. Before, the host tried every report as each kind with `try?`, so a
/// report that did not decode became "no report" with its text thrown away.
public enum GuestReport: Codable, Sendable, Equatable {
    case workload(WorkloadReport)
    case stress(StressReport)
    case persistence(PersistenceReport)

    public enum Kind: String, Codable, Sendable { case workload, stress, persistence }

    public var kind: Kind {
        switch self {
        case .workload: .workload
        case .stress: .stress
        case .persistence: .persistence
        }
    }

    private enum CodingKeys: String, CodingKey { case kind, report }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(Kind.self, forKey: .kind) {
        case .workload: self = .workload(try container.decode(WorkloadReport.self, forKey: .report))
        case .stress: self = .stress(try container.decode(StressReport.self, forKey: .report))
        case .persistence: self = .persistence(try container.decode(PersistenceReport.self, forKey: .report))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        switch self {
        case let .workload(report): try container.encode(report, forKey: .report)
        case let .stress(report): try container.encode(report, forKey: .report)
        case let .persistence(report): try container.encode(report, forKey: .report)
        }
    }
}
