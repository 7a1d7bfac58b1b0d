import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigSupport

/// The two crashers FuzzTests found in toml++ (TOMLKit), kept with their neighbours:
/// each aborted daxrig (exit 134, release builds too: the assertions are compiled in)
/// before the guard, and is now an error naming the line (exit 2).
@Suite struct TOMLHeaderGuardTests {
    @Test(arguments: [
        ("name = \"x\"\n[[{tress]]\nname = \"s\"\n", 2),      // toml++ parse_key(): is_bare_key_character
        ("specs = [\"a\", }\"b\"]\n", 1),                      // toml++ parse_value(): !is_value_terminator
        ("[a]\nx = [1, 2\n, ]\n[b.{c]\n", 4),
        ("x = ,\n", 1), ("x = [,]\n", 1), ("x = {a = 1,, b = 2}\n", 1), ("x = [1}\n", 1),
    ])
    func crashersAreRefusedWithTheirLine(_ text: String, _ line: Int) throws {
        #expect { try TOMLFile(path: "/f/s.toml", text: text) } throws: { error in
            guard let error = error as? InputFileError else { return false }
            return error.line == line
        }
    }

    @Test func validTOMLPassesTheGuard() throws {
        let valid = """
            name = "x" # [not a header]
            text = \"\"\"
            [not a header either]
            \"\"\"
            literal = '[x'
            nested = [
              [0, "4K"],
              [1, 2,],
            ]
            empty = []
            inline = {}
            table = { a = 1, b = [2, 3] }
            [ "quoted key" . bare-key_2 ]
            [[array.of]]  # comment
            """
        try TOMLHeaderGuard.check(valid)
        _ = try TOMLFile(path: "/f/v.toml", text: valid)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for directory in ["kernels/specs", "kernels/matrices"] {
            for name in try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(directory).path) where name.hasSuffix(".toml") {
                try TOMLHeaderGuard.check(try Files.read(root.appendingPathComponent(directory).appendingPathComponent(name).path))
            }
        }
    }
}
