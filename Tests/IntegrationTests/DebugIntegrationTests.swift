import DaxRig
import DaxRigKernel
import DaxRigSupport
import Foundation
import Synchronization
import Testing

/// Debugging a guest kernel (issue 16), for real: gdb attached through QEMU's stub
/// breaks in the DAX fault path a program of the developer's triggers, and a provoked
/// oops comes back with its stack as file:line. Both boot the one kernel with DWARF
/// the suite builds (Rig.tracedOptionOffKernel: debug-info.config is one of its
/// fragments, so debugging costs no build of its own).
@Suite(.serialized, .timed) struct DebugIntegrationTests {
    /// A static program that takes a PMD fault on a DAX file: 4 MiB mapped shared on
    /// xfs made with a 2 MiB stripe unit, so the first touch maps a whole PMD.
    func pmdToucher(in directory: URL) throws -> String {
        let source = directory.appendingPathComponent("touch.c").path
        try Files.write("""
            #include <fcntl.h>
            #include <stdio.h>
            #include <sys/mman.h>
            #include <unistd.h>
            int main(void) {
                int fd = open("/mnt/pmem/pmd", O_CREAT | O_RDWR, 0644);
                if (fd < 0 || ftruncate(fd, 4 << 20) != 0) { perror("file"); return 1; }
                char *p = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (p == MAP_FAILED) { perror("mmap"); return 1; }
                p[0] = 1;
                printf("touched\\n");
                return 0;
            }
            """, to: source)
        let binary = directory.appendingPathComponent("touch").path
        try Command("gcc", ["-static", "-O2", "-o", binary, source]).run()
        return binary
    }

    /// Waits until something listens on the loopback port (the stub, once QEMU started).
    func waitForListener(port: UInt16, until deadline: Date) -> Bool {
        while Date() < deadline {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            } == 0
            close(fd)
            if connected { return true }
            usleep(200_000)
        }
        return false
    }

    @Test func gdbBreaksInTheDaxPmdFaultAProgramTriggersAndTheRunFinishes() throws {
        let kernel = try Rig.tracedOptionOffKernel()
        let vmlinux = try #require(kernel.vmlinux, "the kernel keeps vmlinux")
        #expect(kernel.gdbScripts != nil, "GDB_SCRIPTS: the lx- helpers are kept")
        let directory = try Rig.scratch("gdb")
        defer { Files.removeDirectory(directory.path) }
        let toucher = try pmdToucher(in: directory)
        let port: UInt16 = 12_000 + UInt16(getpid() % 1000)
        let (process, out, err) = try Rig.start(["boot", "--kernel", kernel.manifest.key, "--gdb-wait", "--gdb-port", "\(port)",
                                                 "--timeout", "600", "--add", toucher, "--", "/root/touch"])
        #expect(waitForListener(port: port, until: Date().addingTimeInterval(60)), "the gdb stub listens on 127.0.0.1:\(port)")
        // The guest waits for gdb: break where the program's first touch goes, see the
        // stack with its lines, check the lx- helpers read the running kernel, and let go.
        let gdb = try Command("timeout", ["300", "gdb", "-batch", "-nx",
                                          "-iex", "add-auto-load-safe-path \(kernel.directory.path)", vmlinux,
                                          "-ex", "target remote 127.0.0.1:\(port)", "-ex", "break dax_iomap_pmd_fault",
                                          "-ex", "continue", "-ex", "bt 6", "-ex", "lx-version", "-ex", "delete", "-ex", "detach"]).runAllowingFailure()
        let (stdout, stderr) = Rig.finish(process, out, err)
        let guestOut = String(decoding: stdout, as: UTF8.self), guestErr = String(decoding: stderr, as: UTF8.self)
        #expect(gdb.status == 0, "\(gdb.standardOutput.suffix(3000))\(gdb.standardError.suffix(2000))")
        #expect(gdb.standardOutput.contains("Breakpoint 1, dax_iomap_pmd_fault"), "\(gdb.standardOutput.suffix(3000))")
        #expect(gdb.standardOutput.contains("fs/dax.c:"), "\(gdb.standardOutput.suffix(3000))")
        #expect(gdb.standardOutput.contains("Linux version 6.1."), "lx-version: \(gdb.standardOutput.suffix(2000))")
        #expect(process.terminationStatus == 0, "\(guestErr.suffix(3000))")
        #expect(guestOut.contains("touched"))
        #expect(guestErr.contains("gdb -iex 'add-auto-load-safe-path \(kernel.directory.path)' \(vmlinux) -ex 'target remote 127.0.0.1:\(port)'"))
        #expect(try Rig.domainsLeft(by: process.processIdentifier).isEmpty)
    }

    @Test func aProvokedOopsIsPrintedWithItsStackAsFileAndLine() throws {
        let kernel = try Rig.tracedOptionOffKernel()
        let run = try Rig.run(["boot", "--kernel", kernel.manifest.key, "--fs", "none", "--", "sh", "-c",
                               "mount -t debugfs none /sys/kernel/debug && echo BUG > /sys/kernel/debug/provoke-crash/DIRECT"])
        #expect(run.status == 110, "\(run.standardError.suffix(3000))")
        // The trap's own line, with the source line of the BUG() (the excerpt holds the
        // report's first lines; frames further down decode the same way).
        #expect(run.standardError.contains("RIP: 0010:lkdtm_BUG+0x0/0x2 [drivers/misc/lkdtm/bugs.c:"), "\(run.standardError.suffix(3000))")
        if let kept = run.standardError.split(separator: "\n").first(where: { $0.contains("console log kept at ") }) {
            Files.removeDirectory(URL(fileURLWithPath: String(kept.split(separator: " ").last!)).deletingLastPathComponent().path)
        }
    }

    /// `daxrig run --gdb`: a kernel panic in the middle of a workload (worker 3 panics it,
    /// DAXRIG_INJECT_PANIC) leaves its guest halted for gdb until Enter, on a terminal
    /// (script(1) gives daxrig one). gdb attaches to the crashed kernel and finds the
    /// panic on a CPU's stack; after Enter the run goes on to its verdict (the crash)
    /// with no domain left. Without a terminal nobody could answer: not held.
    @Test func aRunWithGdbHoldsTheCrashedGuestUntilEnterAndGdbFindsThePanic() throws {
        let kernel = try Rig.tracedOptionOffKernel()
        let vmlinux = try #require(kernel.vmlinux, "the kernel keeps vmlinux")
        let port: UInt16 = 13_000 + UInt16(getpid() % 1000)
        let arguments = ["run", "--kernel", kernel.manifest.key, "--backings", "fsdax-xfs", "--processes", "10", "--no-store",
                         "--gdb", "--gdb-port", "\(port)"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-q", "-e", "-c", ([Rig.daxrig] + arguments).joined(separator: " "), "/dev/null"]
        process.environment = ProcessInfo.processInfo.environment.merging(["DAXRIG_INJECT_PANIC": "3"]) { _, given in given }
        let input = Pipe(), out = Pipe()
        process.standardInput = input
        process.standardOutput = out
        process.standardError = out
        try process.run()
        // The terminal's output as it comes (stdout and stderr are one on a terminal).
        let reader = Rig.Drain(out.fileHandleForReading)
        func output() -> String { reader.text }
        let deadline = Date().addingTimeInterval(600)
        while !output().contains("press Enter to destroy it"), process.isRunning, Date() < deadline { usleep(500_000) }
        #expect(output().contains("the guest is held for gdb:"), "\(output().suffix(3000))")
        #expect(output().contains("kernel panic"), "\(output().suffix(3000))")
        #expect(output().contains("-ex 'target remote 127.0.0.1:\(port)'"), "\(output().suffix(3000))")
        // The guest is still there, halted in its panic: every CPU's stack, one of them
        // the panic's, with kernel/panic.c lines.
        let gdb = try Command("timeout", ["300", "gdb", "-batch", "-nx", vmlinux,
                                          "-ex", "target remote 127.0.0.1:\(port)", "-ex", "thread apply all bt 12", "-ex", "detach"]).runAllowingFailure()
        #expect(gdb.standardOutput.contains("kernel/panic.c:"), "\(gdb.standardOutput.suffix(3000))\(gdb.standardError.suffix(2000))")
        #expect(gdb.standardOutput.contains("sysrq_handle_crash"), "\(gdb.standardOutput.suffix(3000))")
        #expect(process.isRunning, "the run waits for Enter")
        let daxrig = Rig.children(of: process.processIdentifier).first
        input.fileHandleForWriting.write(Data("\n".utf8))
        let ended = Date().addingTimeInterval(300)
        while process.isRunning, Date() < ended { usleep(200_000) }
        if process.isRunning { process.terminate() }   // stuck: fail, and do not hang the suite
        process.waitUntilExit()
        try? input.fileHandleForWriting.close()
        reader.wait()
        #expect(process.terminationStatus == 1, "\(output().suffix(3000))")
        #expect(output().contains("fsdax-xfs-n10"))
        if let daxrig { #expect(try Rig.domainsLeft(by: daxrig).isEmpty) } else { Issue.record("no daxrig under script") }
        removeKeptRuns(output())

        // No terminal on stdin: the crash is said, the guest not held, the run ends alone.
        let (alone, aloneOut, aloneErr) = try Rig.start(arguments, environment: ["DAXRIG_INJECT_PANIC": "3"])
        let stderr = String(decoding: Rig.finish(alone, aloneOut, aloneErr).stderr, as: UTF8.self)
        #expect(alone.terminationStatus == 1, "\(stderr.suffix(3000))")
        #expect(stderr.contains("not held for gdb: stdin is not a terminal"), "\(stderr.suffix(3000))")
        #expect(try Rig.domainsLeft(by: alone.processIdentifier).isEmpty)
        removeKeptRuns(stderr)
    }

    /// The console logs a crashed run kept, once the test has read what it needs.
    func removeKeptRuns(_ output: String) {
        for line in output.split(whereSeparator: \.isNewline) where line.contains("console log kept at ") {
            Files.removeDirectory(URL(fileURLWithPath: String(line.split(separator: " ").last!)).deletingLastPathComponent().path)
        }
    }
}
