import DaxRigProtocol
import DaxRigSupport
import Foundation
@testable import DaxRigImage

/// Real files captured from daxrig's own builds and runs, kept next to the tests.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    /// A fresh temporary directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        // mkdtemp: a name nobody could have planted a link at (root runs the tests).
        var template = Array("/tmp/daxrig-test-XXXXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        return URL(fileURLWithPath: String(cString: made))
    }

    /// A cached image in `directory` that nothing boots: for code that only passes one on.
    static func guestImage(in directory: URL) throws -> GuestImage {
        let manifest = try JSONCoding.decoder.decode(ImageManifest.self, from: Data("""
            {"key":"k","recipe":"r","agent":"a","agentSize":0,"entries":[],"fileBytes":0,"totalSize":0,"created":"2025-01-01T00:00:00Z"}
            """.utf8))
        return GuestImage(key: "k", directory: directory, manifest: manifest, cacheHit: true)
    }

    /// A workload's report as the guest sends it, with the figures a test sets: one
    /// worker per entry of `faults`; PageTables moved by `mappedPages` pages between
    /// the control and the mapped reading (1 per process when private, 1 in all when shared).
    static func workloadReport(spec: WorkloadSpec, control: UInt64 = 600_000, mappedPages: UInt64, vmPTEDelta: UInt64 = 8192,
                               faults: [UInt64], mismatches: UInt64 = 0, final: UInt64 = 500_000) -> WorkloadReport {
        let workers = faults.map { WorkloadReport.Worker(vmPTEBefore: 40_960, vmPTEAfter: 40_960 + vmPTEDelta, faults: $0,
                                                         faultNanoseconds: 1, mismatches: mismatches, mapErrno: 0, exitStatus: 0) }
        return WorkloadReport(spec: spec, preFork: 500_000, control: control, mapped: control + mappedPages * 4096, final: final,
                              workers: workers, patternWords: 26214, seconds: 1, notes: [])
    }
}
