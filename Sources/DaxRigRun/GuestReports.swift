import DaxRigProtocol
import Foundation

/// The guest's reports of one boot, each decoded once, as the kind it says it is
/// (GuestReport). One that does not decode is kept as a message with its text, so a
/// result without its report says why instead of only "no report".
public struct GuestReports: Sendable {
    public var workloads: [WorkloadReport] = []
    public var stress: [StressReport] = []
    public var persistence: [PersistenceReport] = []
    /// Reports that did not decode: the file, the decoder's error, how the text begins.
    public var malformed: [String] = []

    public init(_ reports: [(name: String, text: String)]) {
        for report in reports {
            do {
                switch try JSONDecoder().decode(GuestReport.self, from: Data(report.text.utf8)) {
                case let .workload(decoded): workloads.append(decoded)
                case let .stress(decoded): stress.append(decoded)
                case let .persistence(decoded): persistence.append(decoded)
                }
            } catch {
                malformed.append("\(report.name) does not decode (\(error)); it begins: \(report.text.prefix(200).debugDescription)")
            }
        }
    }

    /// What a "no report" error adds when a report did not decode: it may have been the one.
    public var malformedNote: String {
        malformed.isEmpty ? "" : "; the guest sent \(malformed.count) report(s) that do not decode: " + malformed.joined(separator: "; ")
    }
}
