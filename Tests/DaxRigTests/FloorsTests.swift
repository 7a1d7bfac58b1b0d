import Foundation
import Testing

/// The floors (ARCHITECTURE.md) as the sources hold them: a target imports only the
/// targets and products Package.swift declares for it. SwiftPM lets a target import
/// any module it depends on transitively, and `--explicit-target-dependency-import-check`
/// did not flag one here (Results importing Machine through Run built without a
/// word), so an arrow around a floor would go unseen without this test.
@Suite struct FloorsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Each target's name and the modules its `dependencies:` name (a product by its module).
    static func declared(_ manifest: String) -> [String: Set<String>] {
        var targets: [String: Set<String>] = [:]
        // Each block runs from one target's opening to the next one's.
        let openings = manifest.ranges(of: /\.(?:target|executableTarget|testTarget|systemLibrary)\(/)
        for (index, opening) in openings.enumerated() {
            let block = manifest[opening.upperBound..<(index + 1 < openings.count ? openings[index + 1].lowerBound : manifest.endIndex)]
            guard let name = block.firstMatch(of: /name: "(\w+)"/)?.1 else { continue }
            var modules: Set<String> = []
            if let list = block.firstMatch(of: /dependencies: \[([^\]]*)\]/)?.1 {
                for match in list.matches(of: /\.product\(name: "(\w+)"[^)]*\)|"(\w+)"/) {
                    if let product = match.1 { modules.insert(String(product)) } else if let target = match.2 { modules.insert(String(target)) }
                }
            }
            targets[String(name), default: []].formUnion(modules)
        }
        return targets
    }

    /// Modules of this package or its packages that `file` imports.
    static func imports(_ text: String, ours: Set<String>) -> Set<String> {
        // Attributes (@testable, @preconcurrency, @_spi(X)) and access levels (public
        // import) may come first; a declaration import names its module before the dot.
        Set(text.matches(of: /(?m)^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|package|internal|fileprivate|private)\s+)?import\s+(?:(?:struct|class|enum|func|protocol|typealias|var|let)\s+)?(\w+)/)
            .map { String($0.1) }.filter(ours.contains))
    }

    @Test func eachTargetImportsOnlyWhatPackageSwiftDeclaresForIt() throws {
        let targets = Self.declared(try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8))
        #expect(targets["DaxRigResults"]?.contains("DaxRigRun") == true && targets["DaxRigResults"]?.contains("GRDB") == true, "\(targets)")
        let ours = Set(targets.keys).union(targets.values.flatMap { $0 })
        var checked = 0
        for (target, allowed) in targets {
            let folder = Self.root.appendingPathComponent(target.hasSuffix("Tests") ? "Tests/\(target)" : "Sources/\(target)")
            guard let files = FileManager.default.enumerator(atPath: folder.path) else { continue }
            for case let file as String in files where file.hasSuffix(".swift") {
                let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
                let stray = Self.imports(text, ours: ours).subtracting(allowed).subtracting([target])
                #expect(stray.isEmpty, "\(target)/\(file) imports \(stray.sorted()), which Package.swift does not give \(target)")
                checked += 1
            }
        }
        #expect(checked > 100)
    }

    /// The check itself: an import around a floor is seen, a declared one is not.
    @Test func anImportAroundAFloorIsNamed() {
        let manifest = """
            .target(name: "Low", dependencies: []),
            .target(name: "Mid", dependencies: ["Low"]),
            .target(name: "Top", dependencies: ["Mid", .product(name: "GRDB", package: "GRDB.swift")]),
            """
        let targets = Self.declared(manifest)
        #expect(targets == ["Low": [], "Mid": ["Low"], "Top": ["Mid", "GRDB"]])
        // A target without dependencies does not take the next target's.
        #expect(Self.declared(".target(name: \"P\"),\n.target(name: \"Q\", dependencies: [\"P\"])") == ["P": [], "Q": ["P"]])
        let ours = Set(targets.keys).union(["GRDB"])
        #expect(Self.imports("import Foundation\nimport Mid\n@testable import Low\nimport struct GRDB.Row\n", ours: ours) == ["Mid", "Low", "GRDB"])
        #expect(Self.imports("public import Mid\n@preconcurrency import Low\n@_spi(X) @testable internal import GRDB\n", ours: ours) == ["Mid", "Low", "GRDB"])
        #expect(Self.imports("import Mid\nimport GRDB", ours: ours).subtracting(targets["Top"]!).isEmpty)
        #expect(Self.imports("import Mid\nimport Low", ours: ours).subtracting(targets["Top"]!) == ["Low"])
    }
}
