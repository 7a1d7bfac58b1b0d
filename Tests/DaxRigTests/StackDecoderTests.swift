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

    /// Static functions of one name in two files (the 6.1 kernel has 559): the frame's
    /// /0xSIZE picks the definition; where the sizes tie, no line beats a wrong one.
    /// Built with -O2 and 32-byte function alignment, so each function's ELF size
    /// leaves out the padding after it, and the size the kernel prints (the distance
    /// to the next symbol, as kallsyms counts it) is not the ELF size.
    @Test func aStaticNameDefinedTwiceIsDecodedByTheSizeTheKernelPrints() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { Files.removeDirectory(directory.path) }
        let a = directory.appendingPathComponent("a.c").path, b = directory.appendingPathComponent("b.c").path
        try Files.write("__attribute__((noinline)) static int helper(int x) {\n  return x + 1;\n}\nint from_a(int x) { return helper(x); }\n", to: a)
        try Files.write("__attribute__((noinline)) static int helper(int x) {\n  int y = x * 7;\n  y ^= y >> 3;\n  for (int i = 0; i < x; i++) y += i * x;\n  return y - 5;\n}\n"
                        + "int from_b(int x) { return helper(x); }\nint from_a(int);\nint main(int c, char **v) { return from_a(c) + from_b(c); }\n", to: b)
        let binary = directory.appendingPathComponent("twice").path
        try Command("gcc", ["-g", "-O2", "-falign-functions=32", "-o", binary, a, b]).run()
        // The kernel's sizes: from each helper to the next symbol above it.
        let sorted: [[Substring]] = try Command("nm", ["-n", "-S", binary]).run().standardOutput.split(separator: "\n").map { $0.split(separator: " ") }
        var printed: [String] = [], elf: [String] = []
        for (index, fields) in sorted.enumerated() where fields.count == 4 && fields[3] == "helper" {
            let address = UInt64(fields[0], radix: 16)!
            let next = sorted[(index + 1)...].compactMap { UInt64($0[0], radix: 16) }.first { $0 > address }!
            printed.append(String(next - address, radix: 16))
            elf.append(String(UInt64(fields[1], radix: 16)!, radix: 16))
        }
        try #require(printed.count == 2 && printed[0] != printed[1], "two helpers of different sizes: \(printed)")
        #expect(printed != elf, "alignment padding makes the printed size differ from the ELF size: \(printed) \(elf)")
        let decoder = try #require(StackDecoder(vmlinux: binary))
        // Each printed size names its own file.
        let decoded: [String] = printed.map { decoder.decode(" helper+0x4/0x\($0)") }
        #expect(decoded.contains { $0.contains(" [") && $0.contains("a.c:") }, "\(decoded)")
        #expect(decoded.contains { $0.contains(" [") && $0.contains("b.c:") }, "\(decoded)")
        // A size neither has: two candidates, no line.
        #expect(decoder.decode(" helper+0x4/0x7777") == " helper+0x4/0x7777")
        // A module's frame of a name vmlinux has, with or without a build id: not decoded.
        #expect(decoder.decode(" main+0x4/0x20 [some_module]") == " main+0x4/0x20 [some_module]")
        #expect(decoder.decode(" main+0x4/0x20 [some_module 1a2b3c4d]") == " main+0x4/0x20 [some_module 1a2b3c4d]")
    }

    @Test func theCachesTreeIsCutFromThePlace() {
        #expect(StackDecoder.relative("/root/.cache/daxrig/trees/tar-cacdc3830989/src/fs/dax.c:1234") == "fs/dax.c:1234")
        #expect(StackDecoder.relative("/c/trees/tar-x/build-52334815ec8c/include/generated/x.h:3") == "include/generated/x.h:3")
        #expect(StackDecoder.relative("/elsewhere/victim.c:2") == "/elsewhere/victim.c:2")
    }
}
