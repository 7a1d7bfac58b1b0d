import Foundation
import Testing
@testable import DaxRigMachine
@testable import DaxRigSupport

/// Crash stacks as file:line (issue 16). The decoder is the real one, with the real
/// binutils, on a program built here with DWARF; the kernel's own is
/// BootIntegrationTests' provoked oops.
@Suite struct StackDecoderTests {
    /// 6.1's own shape of a trace: RIP line, Call Trace frames, `? ` unreliable frames.
    let oops = """
        RIP: 0010:lkdtm_BUG+0x5/0x10
        Call Trace:
         <TASK>
         lkdtm_do_action+0x16/0x30
         ? direct_entry+0x10c/0x120
         full_proxy_write+0x54/0x80
        """

    @Test func framesAreFunctionPlusOffsetWhereverTheLineHasThem() {
        let frames = StackDecoder.frames(in: oops)
        #expect(frames.map(\.function) == ["lkdtm_BUG", "lkdtm_do_action", "direct_entry", "full_proxy_write"])
        #expect(frames.map(\.offset) == [5, 0x16, 0x10c, 0x54])
        #expect(frames.map(\.line) == [0, 3, 4, 5])
        #expect(frames.map(\.size) == [0x10, 0x30, 0x120, 0x80])
        // A module's frame is not vmlinux's to decode.
        #expect(StackDecoder.frames(in: " nd_pmem_probe+0x5c/0x90 [nd_pmem]\n dax_fault+0x1/0x2").map(\.function) == ["dax_fault"])
        #expect(StackDecoder.frames(in: "a+b/c x+0x/0x1 +0x1/0x2 WARNING: CPU: 0 PID: 1 at fs/dax.c:12").isEmpty)
    }

    @Test func aProgramsFramesGetTheirSourceLines() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Files.removeDirectory(directory.path) }
        let source = directory.appendingPathComponent("victim.c").path
        try Files.write("int helper(int x) {\n  return x * 3;\n}\nint main(int argc, char **argv) {\n  return helper(argc);\n}\n", to: source)
        let binary = directory.appendingPathComponent("victim").path
        try Command("gcc", ["-g", "-O0", "-o", binary, source]).run()
        let decoder = try #require(StackDecoder(vmlinux: binary))
        let decoded = decoder.decode("RIP: 0010:helper+0x4/0x10\n main+0x4/0x20\n unknown_fn+0x1/0x2")
        let lines = decoded.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("RIP: 0010:helper+0x4/0x10 [") && lines[0].contains("victim.c:"), "\(decoded)")
        #expect(lines[1].contains("victim.c:"), "\(decoded)")
        #expect(lines[2] == " unknown_fn+0x1/0x2")
        // Without DWARF there is nothing to decode with.
        try Command("strip", ["--strip-debug", binary]).run()
        #expect(StackDecoder(vmlinux: binary) == nil)
    }

    /// Static functions of one name in two files (the kernel has hundreds): the frame's
    /// /0xSIZE picks the definition; where the sizes tie, no line beats a wrong one.
    @Test func aStaticNameDefinedTwiceIsDecodedByItsSize() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Files.removeDirectory(directory.path) }
        let a = directory.appendingPathComponent("a.c").path, b = directory.appendingPathComponent("b.c").path
        try Files.write("static int helper(int x) {\n  return x + 1;\n}\nint from_a(int x) { return helper(x); }\n", to: a)
        try Files.write("static int helper(int x) {\n  int y = x * 7;\n  y ^= y >> 3;\n  y += x * x;\n  return y - 5;\n}\n"
                        + "int from_b(int x) { return helper(x); }\nint from_a(int);\nint main(int c, char **v) { return from_a(c) + from_b(c); }\n", to: b)
        let binary = directory.appendingPathComponent("twice").path
        try Command("gcc", ["-g", "-O0", "-o", binary, a, b]).run()
        let symbols: [[Substring]] = try Command("nm", ["-S", binary]).run().standardOutput.split(separator: "\n").map { $0.split(separator: " ") }
        let sizes: [String] = symbols.filter { $0.count == 4 && $0[3] == "helper" }.map { String($0[1]) }
        try #require(sizes.count == 2 && sizes[0] != sizes[1], "two helpers of different sizes: \(sizes)")
        let decoder = try #require(StackDecoder(vmlinux: binary))
        // Each size names its own file.
        let decoded: [String] = sizes.map { size in
            let hex = String(UInt64(size, radix: 16) ?? 0, radix: 16)
            return decoder.decode(" helper+0x4/0x\(hex)")
        }
        #expect(decoded.contains { $0.contains("[") && $0.contains("a.c:") }, "\(decoded)")
        #expect(decoded.contains { $0.contains("[") && $0.contains("b.c:") }, "\(decoded)")
        // A size neither has: two candidates, no line.
        #expect(decoder.decode(" helper+0x4/0x7777") == " helper+0x4/0x7777")
        // A module's frame of a name vmlinux has: not decoded.
        #expect(decoder.decode(" main+0x4/0x20 [some_module]") == " main+0x4/0x20 [some_module]")
    }

    @Test func theCachesTreeIsCutFromThePlace() {
        #expect(StackDecoder.relative("/root/.cache/daxrig/trees/tar-cacdc3830989/src/fs/dax.c:1234") == "fs/dax.c:1234")
        #expect(StackDecoder.relative("/c/trees/tar-x/build-52334815ec8c/include/generated/x.h:3") == "include/generated/x.h:3")
        #expect(StackDecoder.relative("/elsewhere/victim.c:2") == "/elsewhere/victim.c:2")
    }
}
