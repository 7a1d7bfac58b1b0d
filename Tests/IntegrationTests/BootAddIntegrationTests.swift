import Foundation
import Testing
import DaxRigSupport

/// `daxrig boot --add` (issue 16): a developer's own programs, built on this host, run
/// in the guest on its DAX mount; nothing but the initramfs carries them.
extension BootIntegrationTests {
    /// A static C program that writes a file on /mnt/pmem and asks the kernel whether
    /// the file is DAX (STATX_ATTR_DAX); a dynamic one that needs libm, which the image
    /// does not hold; and a directory with a script: each runs, and its status and
    /// output come back.
    @Test func programsAddedToTheInitramfsRunOnThePmem() throws {
        let directory = try Rig.scratch("add")
        defer { Files.removeDirectory(directory.path) }
        let source = directory.appendingPathComponent("repro.c").path
        try Files.write("""
            #define _GNU_SOURCE
            #include <fcntl.h>
            #include <stdio.h>
            #include <string.h>
            #include <sys/stat.h>
            #include <unistd.h>
            int main(void) {
                int fd = open("/mnt/pmem/from-c", O_CREAT | O_RDWR, 0644);
                if (fd < 0 || write(fd, "written by C\\n", 13) != 13 || fsync(fd) != 0) { perror("write"); return 1; }
                struct statx st;
                if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &st) != 0) { perror("statx"); return 1; }
                printf("dax=%d\\n", (st.stx_attributes & 0x00200000) != 0);
                return 7;
            }
            """, to: source)
        try Command("gcc", ["-static", "-O2", "-o", directory.appendingPathComponent("repro").path, source]).run()
        let mathSource = directory.appendingPathComponent("cosine.c").path
        try Files.write("#include <math.h>\n#include <stdio.h>\nint main(int argc, char **argv) { printf(\"cos=%.1f\\n\", cos(argc - 1)); return 0; }\n",
                        to: mathSource)
        try Command("gcc", ["-O2", "-o", directory.appendingPathComponent("cosine").path, mathSource, "-lm"]).run()
        #expect(try Command("ldd", [directory.appendingPathComponent("cosine").path]).run().standardOutput.contains("libm.so.6"))
        let tools = directory.appendingPathComponent("tools").path
        try FileManager.default.createDirectory(atPath: tools, withIntermediateDirectories: true)
        try Files.write("#!/bin/sh\necho \"script in $(dirname \"$0\")\"\n", to: tools + "/hello.sh")
        chmod(tools + "/hello.sh", 0o755)

        let run = try boot(["--add", directory.appendingPathComponent("repro").path, "--add", directory.appendingPathComponent("cosine").path + ":/opt/cosine",
                            "--add", tools, "--", "sh", "-c",
                            "/root/repro; echo repro=$?; cat /mnt/pmem/from-c; /opt/cosine; /root/tools/hello.sh"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("dax=1\nrepro=7\nwritten by C\ncos=1.0\nscript in /root/tools\n"), "\(run.stdout)")
        try expectNothingLeft(run, keptConsole: false)
    }

    /// What cannot be added is refused before anything boots, exit 2, naming the input,
    /// with no domain or run directory left.
    @Test func anAdditionThatCannotBeMadeIsRefusedBeforeTheBoot() throws {
        let directory = try Rig.scratch("add-bad")
        defer { Files.removeDirectory(directory.path) }
        let file = directory.appendingPathComponent("f").path
        try Files.write("x", to: file)
        let big = directory.appendingPathComponent("big").path
        #expect(FileManager.default.createFile(atPath: big, contents: nil))
        #expect(truncate(big, 300 << 20) == 0)
        for (arguments, said) in [(["--add", directory.appendingPathComponent("missing").path], "no such file or directory"),
                                  (["--add", file + ":/init"], "/init is daxrig's own"),
                                  (["--add", file + ":/bin/busybox"], "/bin/busybox is a file of daxrig's guest image"),
                                  (["--add", big], "--add (300 MiB of additions)")] {
            let run = try boot(arguments + ["--", "true"])
            #expect(run.status == 2, "\(arguments): \(run.stderr)")
            #expect(run.stderr.contains(said), "\(run.stderr)")
            try expectNothingLeft(run, keptConsole: false)
        }
    }
}
