import DaxRig
import Foundation
import Testing
import DaxRigSupport

@Suite struct MatrixTests {
    static let root = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func write(_ text: String) throws -> (String, URL) {
        let directory = try Fixtures.temporaryDirectory()
        let path = directory.appendingPathComponent("m.toml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return (path, directory)
    }

    func failure(_ text: String) throws -> InputFileError? {
        let (path, directory) = try write(text)
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            _ = try Matrix.load(path)
            Issue.record("loaded: \(text)")
        } catch let error as InputFileError {
            return error
        }
        return nil
    }

    @Test func shippedSmallMatrixHasTwoKernelsOfOneSource() throws {
        let matrix = try Matrix.load(Self.root.appendingPathComponent("kernels/matrices/small.toml").path)
        #expect(matrix.name == "small")
        #expect(matrix.kernels.map(\.name) == ["unpatched", "demo-patch"])
        #expect(matrix.kernels[0].request.patches == nil)
        #expect(matrix.kernels[1].request.patches?.patches.count == 1)
        // processes = [1, 10] cut the default spec to 6 workloads per kernel.
        #expect(matrix.kernels.allSatisfy { $0.specs.map(\.workloads.count) == [6] })
    }

    @Test func errorsNameTheLineAndTheKey() throws {
        let unknown = try failure("[[kernel]]\nname = \"a\"\npatchez = \"x\"\n")
        #expect(unknown?.line == 3 && unknown?.key == "patchez")
        let unnamed = try failure("[[kernel]]\nsource = \"/usr/src/linux-source-6.1.tar.xz\"\n")
        #expect(unnamed?.description.contains("[[kernel]] #1 needs a name") == true)
        let noRef = try failure("[[kernel]]\nname = \"a\"\ngit = \"/x\"\n")
        #expect(noRef?.line == 3 && noRef?.description.contains("git needs a ref") == true)
        let spec = try failure("[[kernel]]\nname = \"a\"\nspecs = [\"nope.toml\"]\n")
        #expect(spec?.line == 3 && spec?.description.contains("spec nope.toml not found") == true)
        let twice = try failure("[[kernel]]\nname = \"a\"\n[[kernel]]\nname = \"a\"\n")
        #expect(twice?.line == 4)
        let none = try failure("name = \"empty\"\n")
        #expect(none?.description.contains("names no [[kernel]]") == true)
        let patches = try failure("[[kernel]]\nname = \"a\"\npatches = \"missing-series\"\n")
        #expect(patches?.line == 3)
    }
}
