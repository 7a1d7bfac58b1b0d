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
}
