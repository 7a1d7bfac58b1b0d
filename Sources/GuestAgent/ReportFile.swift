import DaxRigProtocol
import FoundationEssentials
import Glibc

/// Leaves a JSON report in the reports directory, which the agent sends to the host
/// after the command (numbered, so the host gets them in the order they were made).
enum ReportFile {
    static func write(_ report: GuestReport, index: Int, name: String, stage: String) throws {
        try FileIO.makeDirectories(GuestPlan.reportsDirectory)
        var data = try JSONEncoder().encode(report)
        data.append(UInt8(ascii: "\n"))
        let number = String(index)
        let padded = String(repeating: "0", count: max(0, 3 - number.count)) + number
        let path = "\(GuestPlan.reportsDirectory)/\(padded)-\(name).json"
        try FileIO.write([UInt8](data), to: path, stage: stage)
    }
}
