import ArgumentParser
import DaxRig
import DaxRigProtocol
import Foundation
import DaxRigImage
import DaxRigKernel
import DaxRigSupport
import DaxRigResults
import DaxRigRun
import DaxRigMachine

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Map one file from many processes in a guest and report PMD page-table accounting and verdicts.",
        discussion: """
            Runs a test spec (kernels/specs/README.md) on a kernel. With no arguments: the built-in default spec
            (kernels/specs/default.toml) on the default kernel: FS/DAX on xfs and ext4 and the hugetlbfs control,
            N = 1, 10, 100, 1000, S = 1 GiB at a 1 GiB address, expecting what unpatched 6.1 does: hugetlbfs shares
            PMD tables, FS/DAX does not, nothing leaks, data intact, kernel log clean. --processes, --size and
            --backings override the spec's; --only keeps the named cases. Exit status 0 only when every expectation holds, 1 when one fails,
            2 for bad input (spec, sizes, a workload that cannot fit), 3 when a boot gave no report.
            """)

    @Option(help: "A cached kernel key (or prefix), a kernel directory or a bzImage (default: the default kernel).")
    var kernel: String?
    @Option(help: "A test spec (TOML; default: the built-in kernels/specs/default.toml).") var spec: String?
    @Option(help: ArgumentHelp(
        "Boot on this libvirt host (qemu+ssh://user@host/system, qemu+tls://host/system): the kernel and initrd go up as volumes "
            + "of its daxrig pool, the pmem is a volume there (a persistence check's two boots share one).", valueName: "uri"))
    var host: String?
    @Option(help: "Comma-separated process counts, replacing the spec's.", transform: CommaList.processCounts) var processes: [Int]?
    @Option(help: "Comma-separated backings to keep from the spec: fsdax-xfs, fsdax-ext4, hugetlbfs, tmpfs.", transform: CommaList.backings)
    var backings: [WorkloadSpec.Backing]?
    @Option(help: "Mapping size per process (binary units), replacing the spec's.") var size: String?
    @Option(help: "Comma-separated case names (as the run prints them) or globs ('f1-*'): run only these of the spec's cases.",
            transform: CommaList.names)
    var only: [String]?
    @Option(help: "Seconds per boot before it is reported as a timeout (default: the spec's, else 900).") var timeout: Double?
    @Option(help: "The results store (SQLite) the run is recorded in (default: $DAXRIG_STORE, else results.sqlite in the cache).")
    var store: String?
    @Flag(help: "Do not record the run in the results store.") var noStore = false
    @Flag(help: "Print the results as JSON.") var json = false
    @Flag(help: "Print the results as KTAP v1 (what tools/testing/kunit/kunit.py parse reads).") var ktap = false
    @Flag(help: "On a kernel crash, keep the guest's memory as a kdump-compressed vmcore beside the boot's console log.")
    var dumpOnCrash = false
    @Option(name: .customLong("share"), help: ArgumentHelp(
        "A host directory mounted in every boot's guest at GUEST (default /root/NAME), read-write unless :ro; repeatable (as on boot).",
        valueName: "HOST[:GUEST][:ro]"))
    var shares: [String] = []
    @Flag(help: "QEMU's gdb stub on 127.0.0.1 in every boot (the kernel boots with nokaslr and halts on a panic); a boot that crashes or times out holds its guest until Enter.")
    var gdb = false
    @Option(help: "The gdb stub's port (default 1234).") var gdbPort: Int?
    @Flag(help: "Every boot makes its pmem's namespace and file system itself, instead of taking a template an earlier boot of the same kernel formatted.")
    var freshPmem = false

    func validate() throws {
        _ = try CLI.host(host)
        if json && ktap { throw ValidationError("--json and --ktap exclude each other") }
        if gdbPort != nil && !gdb { throw ValidationError("--gdb-port is for --gdb: add --gdb, or leave the port out") }
    }

    func run() throws {
        let progress = TerminalProgress()
        let (results, runID, storePath) = try CLI.guarded { () -> (SpecResults, Int64?, String?) in
            if let timeout { try BootLimits.check(timeout: timeout) }
            let shared = try shares.map { try HostShare.parse($0) }
            let loaded = try spec.map(TestSpec.load) ?? TestSpec.builtIn
            let specText = try spec.map(Files.read) ?? String(decoding: TestSpec.builtInText, as: UTF8.self)
            let results = try noStore ? nil : ResultStore(path: store ?? ResultStore.defaultPath)
            var plan = try loaded.overriding(processes: processes, size: try size.map(ByteSize.parse), backings: backings)
            if let only { plan = try plan.selecting(only) }
            let bootable = try kernel.map { BootableKernel(image: try KernelStore().resolveImage($0)) } ?? BootableKernel(KernelBuilder(progress: progress).build(.default))
            let image = try ImageBuilder(progress: progress).build()
            // Shares are the user's input: refused before the first boot (exit 2), not
            // found bad by it with part of the run done.
            try HostShare.check(shared, image: image.manifest, additions: [], builtIn: KernelFiles(bzImage: bootable.bzImage).builtIn(),
                                kernel: bootable.bzImage)
            let recording = results.map {
                SpecRunner.Recording(store: $0, command: (["daxrig"] + CommandLine.arguments.dropFirst()).joined(separator: " "), specText: specText)
            }
            var runner = GuestRunner(progress: progress)
            runner.policy.dumpOnCrash = dumpOnCrash
            runner.policy.shares = shared
            runner.policy.freshPmem = freshPmem
            runner.policy.host = try CLI.host(host)
            if gdb {
                let debugger = try GdbAttach(kernel: bootable, port: gdbPort ?? 1234, wait: false)
                runner.policy.gdb = debugger.stub
                runner.policy.holdForGdb = GdbHold.prompt(command: debugger.command)
                GdbHold.announce(debugger, forRun: true)
            }
            let (outcome, id) = try SpecRunner(runner: runner).run(
                plan, kernel: bootable, image: image, timeout: timeout, recording: recording) { _, data in
                FileHandle.standardError.write(data)
            }
            return (outcome, id, results?.path)
        }
        if let runID, let storePath { FileHandle.standardError.write(Data("run \(runID) recorded in \(storePath)\n".utf8)) }
        for log in results.keptConsoleLogs {
            FileHandle.standardError.write(Data("console log kept at \(log)\n".utf8))
            let vmcore = (log as NSString).deletingLastPathComponent + "/" + BootResult.vmcoreName
            if Files.exists(vmcore) { FileHandle.standardError.write(Data("vmcore kept at \(vmcore)\n".utf8)) }
        }
        progress.finish()
        if json {
            try CLI.printJSON(SpecReport(results))
        } else if ktap {
            print(KTAP.render(results), terminator: "")
        } else {
            print(ResultTable.render(results))
        }
        throw ExitCode(ExitStatus.of(RunRecord(results).tests.map(\.status)).rawValue)
    }
}
