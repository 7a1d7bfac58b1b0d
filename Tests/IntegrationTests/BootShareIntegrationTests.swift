import Foundation
import Testing
import DaxRigSupport

/// `daxrig boot --share` (issue 16): a host directory in the guest, over virtio-fs, and
/// over 9p when virtiofsd cannot start; what the guest writes there is on the host after.
extension BootIntegrationTests {
    /// A static C program built here, run from the share: it writes and maps a file on
    /// /mnt/pmem, asks whether it is DAX, and leaves its answer on the share.
    static func shareWithAProgram(_ name: String) throws -> URL {
        let directory = try Rig.scratch(name)
        let source = directory.appendingPathComponent("repro.c").path
        try Files.write("""
            #define _GNU_SOURCE
            #include <fcntl.h>
            #include <stdio.h>
            #include <string.h>
            #include <sys/mman.h>
            #include <sys/stat.h>
            #include <unistd.h>
            int main(int argc, char **argv) {
                int fd = open("/mnt/pmem/mapped", O_CREAT | O_RDWR, 0644);
                if (fd < 0 || ftruncate(fd, 2 << 20) != 0) { perror("pmem"); return 1; }
                char *p = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (p == MAP_FAILED) { perror("mmap"); return 1; }
                strcpy(p + (1 << 20), "through the mapping");
                struct statx st;
                if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &st) != 0) { perror("statx"); return 1; }
                FILE *out = fopen(argv[1], "w");
                if (!out) { perror(argv[1]); return 1; }
                fprintf(out, "dax=%d %s\\n", (st.stx_attributes & 0x00200000) != 0, p + (1 << 20));
                fclose(out);
                printf("repro done\\n");
                return 7;
            }
            """, to: source)
        try Command("gcc", ["-static", "-O2", "-o", directory.appendingPathComponent("repro").path, source]).run()
        return directory
    }

    @Test func aProgramOnAShareRunsOnThePmemAndWhatItWritesIsOnTheHost() throws {
        let directory = try Self.shareWithAProgram("share")
        defer { Files.removeDirectory(directory.path) }
        // The same directory read-only too: over 9p even here, where QEMU refuses writes.
        let run = try boot(["--share", directory.path + ":/root/work", "--share", directory.path + ":/opt/ro:ro", "--",
                            "/root/work/repro", "/root/work/answer"])
        #expect(run.status == 7, "\(run.stderr)")
        #expect(run.stdout == "repro done\n")
        #expect(run.stderr.contains("[share] daxrig0 on /root/work via virtio-fs"), "\(run.stderr)")
        #expect(run.stderr.contains("[share] daxrig1 on /opt/ro via 9p, read-only"), "\(run.stderr)")
        #expect((try? Files.read(directory.appendingPathComponent("answer").path)) == "dax=1 through the mapping\n")
        try expectNothingLeft(run, keptConsole: true)
    }

    /// virtiofsd that cannot start (DAXRIG_VIRTIOFSD names one that exits at once): the
    /// same boot goes over 9p and says so; a read-only share refuses the guest's writes.
    @Test func whenVirtiofsCannotStartTheShareGoesOver9pAndReadOnlyHolds() throws {
        let directory = try Self.shareWithAProgram("share-9p")
        defer { Files.removeDirectory(directory.path) }
        let readOnly = try Rig.scratch("share-ro")
        defer { Files.removeDirectory(readOnly.path) }
        try Files.write("from the host\n", to: readOnly.appendingPathComponent("given").path)
        let run = try boot(["--share", directory.path, "--share", readOnly.path + ":/opt/given:ro", "--", "sh", "-c",
                            "/root/\(directory.lastPathComponent)/repro /root/\(directory.lastPathComponent)/answer; echo status=$?; "
                            + "cat /opt/given/given; touch /opt/given/new 2>&1 | grep -c 'Read-only file system'"],
                           environment: ["DAXRIG_VIRTIOFSD": "/bin/false"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("virtio-fs could not start"), "\(run.stderr)")
        #expect(run.stderr.contains("[share] daxrig0 on /root/\(directory.lastPathComponent) via 9p"), "\(run.stderr)")
        #expect(run.stderr.contains("[share] daxrig1 on /opt/given via 9p, read-only"), "\(run.stderr)")
        #expect(run.stdout == "repro done\nstatus=7\nfrom the host\n1\n", "\(run.stdout)")
        #expect((try? Files.read(directory.appendingPathComponent("answer").path)) == "dax=1 through the mapping\n")
        #expect(!Files.exists(readOnly.appendingPathComponent("new").path))
        try expectNothingLeft(run, keptConsole: false)
    }

    /// What cannot be shared is refused before anything boots, exit 2, naming the input.
    @Test func aShareThatCannotBeMadeIsRefusedBeforeTheBoot() throws {
        let directory = try Rig.scratch("share-bad")
        defer { Files.removeDirectory(directory.path) }
        let file = directory.appendingPathComponent("f").path
        try Files.write("x", to: file)
        for (arguments, said) in [(["--share", directory.appendingPathComponent("missing").path], "no such file or directory"),
                                  (["--share", file], "not a directory"),
                                  (["--share", directory.path + ":/mnt/pmem/x"], "/mnt/pmem/x is daxrig's own"),
                                  (["--share", directory.path + ":/dev"], "the agent mounts /dev"),
                                  (["--share", directory.path + ":/bin"], "over /bin/"),
                                  (["--share", directory.path + ":/root/a", "--share", directory.path + ":/root/a/b"], "would hide"),
                                  (["--share", directory.path + ":relative"], "must be absolute")] {
            let run = try boot(arguments + ["--", "true"])
            #expect(run.status == 2, "\(arguments): \(run.stderr)")
            #expect(run.stderr.contains(said), "\(arguments): \(run.stderr)")
            try expectNothingLeft(run, keptConsole: false)
        }
    }

    /// `daxrig run --share`: every boot of the run mounts the share (one boot per pmem
    /// file system here: two), and a share that would hide the image's files is refused
    /// before the first boot, exit 2, with nothing recorded and no run directory left.
    @Test func aRunMountsItsShareInEveryBootAndRefusesABadOneFirst() throws {
        _ = try Rig.defaultKernel()
        let directory = try Rig.scratch("run-share")
        defer { Files.removeDirectory(directory.path) }
        let tools = directory.appendingPathComponent("tools")
        try FileManager.default.createDirectory(at: tools, withIntermediateDirectories: true)
        let run = try Rig.run(["run", "--backings", "fsdax-xfs,fsdax-ext4", "--processes", "1", "--no-store", "--share", tools.path])
        #expect(run.status == 0, "\(run.standardError.suffix(3000))")
        let mounted = run.standardError.split(separator: "\n").filter { $0.contains("[share] daxrig0 on /root/tools via virtio-fs") }
        #expect(mounted.count == 2, "\(run.standardError.suffix(3000))")
        let store = directory.appendingPathComponent("store.sqlite").path
        // Inputs that parse (a missing directory or a daxrig path would not) but land on
        // the image's files: only the check against the image refuses them.
        for (share, said) in [(tools.path + ":/bin", "over /bin/"), (tools.path + ":/bin/sh/x", "under /bin/sh")] {
            let (process, out, err) = try Rig.start(["run", "--backings", "fsdax-xfs", "--processes", "1", "--store", store, "--share", share])
            let stderr = String(decoding: Rig.finish(process, out, err).stderr, as: UTF8.self)
            #expect(process.terminationStatus == 2, "\(share): \(stderr.suffix(2000))")
            #expect(stderr.contains(said), "\(share): \(stderr.suffix(2000))")
            #expect(!stderr.contains("[boot]"), "refused before any boot")
            #expect(Rig.runDirectoriesLeft(by: process.processIdentifier).isEmpty)
        }
        // Refused before the store was opened for a run: nothing recorded.
        let recorded = Files.exists(store) ? try Command("sqlite3", [store, "select count(*) from run"]).run().standardOutput : "0\n"
        #expect(recorded == "0\n")
    }
}
