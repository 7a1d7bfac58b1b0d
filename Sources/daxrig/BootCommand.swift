import ArgumentParser
import DaxRig
import DaxRigProtocol
import Foundation
import DaxRigImage
import DaxRigKernel
import DaxRigSupport
import DaxRigRun
import DaxRigMachine

struct BootCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boot",
        abstract: "Boot a kernel with emulated pmem and run a command in the guest.",
        discussion: """
            The command runs with the pmem mounted (DAX confirmed) at /mnt/pmem; its output is streamed
            and daxrig exits with its status. Other endings have their own status: 110 kernel crash
            (panic, oops, BUG), 111 boot failure before the agent started, 112 agent failure (pmem
            setup), 124 timeout, 125 infrastructure (libvirt, QEMU). The console log is kept for
            every ending but success.
            """)

    @Option(help: "A cached kernel key (or prefix), a kernel directory or a bzImage (default: build or reuse the default kernel).")
    var kernel: String?
    @Option(help: "Size of an emulated nvdimm (binary units); repeat for more nvdimms. The first is mounted.")
    var pmem: [String] = ["2G"]
    @Option(help: "File system on the pmem: ext4, xfs, or none (raw namespace, nothing mounted).") var fs = "xfs"
    @Option(help: "Guest memory.") var memory = "512M"
    @Option(help: "Guest vCPUs.") var cpus = 2
    @Option(help: "Seconds before the guest is destroyed and the run reported as a timeout (default 120; a day with --shell or --gdb).")
    var timeout: Double?
    @Flag(help: "An interactive shell in the guest (or COMMAND on a terminal) with the pmem mounted, on this terminal; exit or Ctrl-D powers the guest off.")
    var shell = false
    @Option(help: "Extra kernel command-line arguments, appended to daxrig's own.") var append: String?
    @Option(name: .customLong("add"), help: ArgumentHelp(
        "A host file or directory copied into the guest's initramfs, at GUEST (default /root/NAME); repeatable. ELF files bring the shared libraries they load.",
        valueName: "HOST[:GUEST]"))
    var additions: [String] = []
    @Option(name: .customLong("share"), help: ArgumentHelp(
        "A host directory mounted in the guest at GUEST (default /root/NAME) before the command, read-write unless :ro (over 9p, where QEMU refuses writes); repeatable. virtio-fs, or 9p where virtiofsd cannot start.",
        valueName: "HOST[:GUEST][:ro]"))
    var shares: [String] = []
    @Flag(help: "Start QEMU's gdb stub on 127.0.0.1 (the kernel boots with nokaslr) and print the gdb command that attaches.")
    var gdb = false
    @Option(help: "The gdb stub's port.") var gdbPort = 1234
    @Flag(help: "With --gdb (implied): the guest starts paused until gdb continues it.") var gdbWait = false
    @Flag(help: "On a kernel crash, keep the guest's memory as a kdump-compressed vmcore with the run (for crash or drgn); the kernel halts on a panic instead of rebooting.")
    var dumpOnCrash = false
    @Option(help: ArgumentHelp(
        "Boot on this libvirt host instead of this machine's (qemu+ssh://user@host/system, qemu+tls://host/system): the kernel "
            + "and initrd go up as volumes of its daxrig pool, the pmem is a volume there, console and results come back as streams.",
        valueName: "uri"))
    var host: String?
    @Flag(help: "Keep the run directory (console log, plan.json, backing file; initrd.cpio with --add).") var keep = false
    @Flag(help: "Make the pmem's namespace and file system in this boot, instead of taking a template an earlier boot of the same kernel formatted.")
    var freshPmem = false
    @Flag(help: "Print a JSON summary on stdout after the command's output.") var json = false
    @Argument(parsing: .postTerminator, help: "The command to run in the guest (after --).") var command: [String] = []

    func validate() throws {
        _ = try CLI.host(host)
    }

    func run() throws {
        let progress = TerminalProgress()
        guard let fileSystem = PmemSetup.FileSystem(rawValue: fs) else {
            throw ValidationError("--fs takes ext4, xfs or none, not '\(fs)'")
        }
        let (kernelPath, image, pmemBytes, memoryBytes, added, shared, debugger) = try CLI.guarded {
            () -> (String, GuestImage, [UInt64], UInt64, [GuestAddition], [HostShare], GdbAttach?) in
            // Every number first: a bad one is refused before anything builds.
            let pmemBytes = try pmem.map { try ByteSize.parse($0) }
            let memoryBytes = try ByteSize.parse(memory)
            try BootLimits.check(vcpus: cpus)
            try BootLimits.check(memoryBytes: memoryBytes)
            for size in pmemBytes { try BootLimits.check(pmemBytes: size) }
            try BootLimits.check(timeout: timeout ?? 120)
            if shell && isatty(STDIN_FILENO) != 1 {
                throw ValidationError("--shell needs a terminal on stdin (run daxrig in one, or in tmux or script)")
            }
            let added = try additions.map { try GuestAddition.parse($0) }
            let shared = try shares.map { try HostShare.parse($0) }
            let kernelPath = try kernel.map { try KernelStore().resolveImage($0) }
                ?? KernelBuilder(progress: progress).build(.default).bzImage
            let debugger = gdb || gdbWait ? try GdbAttach(kernel: BootableKernel(image: kernelPath), port: gdbPort, wait: gdbWait) : nil
            return (kernelPath, try ImageBuilder(progress: progress).build(), pmemBytes, memoryBytes, added, shared, debugger)
        }
        var plan = GuestPlan(pmem: PmemSetup(fileSystem: fileSystem), command: shell && command.isEmpty ? ["/bin/sh"] : command)
        if shell {
            let size = TerminalFeeder.size(of: STDIN_FILENO) ?? (rows: 24, columns: 80)
            plan.terminal = TerminalSpec(rows: size.rows, columns: size.columns, term: ProcessInfo.processInfo.environment["TERM"] ?? "linux")
        }
        var request = BootRequest(
            kernel: kernelPath, plan: plan,
            pmemSizes: pmemBytes, memoryMiB: Int(memoryBytes >> 20), vcpus: cpus, timeout: timeout ?? (shell || debugger != nil ? 86_400 : 120), keep: keep,
            extraKernelArguments: append.map { $0.split(separator: " ").map(String.init) } ?? [])
        request.additions = added
        request.shares = shared
        request.dumpOnCrash = dumpOnCrash
        request.pmemTemplate = !freshPmem
        request.host = try CLI.host(host)
        if let debugger {
            request.gdb = debugger.stub
            // A shell's terminal is raw until the boot ends: no prompt could be answered.
            if !shell { request.holdForGdb = GdbHold.prompt(command: debugger.command) }
            GdbHold.announce(debugger, forRun: false)
        }
        // A shell gets the terminal to itself: raw mode, and no progress lines between
        // its bytes (raw mode has no \r for their \n).
        var raw: RawTerminal?
        if shell {
            FileHandle.standardError.write(Data("daxrig: booting; the shell starts with the pmem mounted at /mnt/pmem (exit or Ctrl-D powers the guest off; Ctrl-] destroys it)\n".utf8))
            raw = RawTerminal(fd: STDIN_FILENO)
            request.terminalInput = STDIN_FILENO
        }
        let result = try CLI.guarded {
            defer { raw?.restore() }
            return try GuestRunner(progress: shell ? SilentProgress() : progress).boot(request, image: image) { stream, data in
                (stream == .stdout ? FileHandle.standardOutput : FileHandle.standardError).write(data)
            }
        }
        progress.finish()
        let report = BootReport(result)
        if json {
            try CLI.printJSON(report)
        }
        // Findings the outcome's own message does not already show.
        for finding in result.findings where !result.outcome.shows(finding) {
            // A lost console is the rig's own finding, not the kernel's.
            let text = finding.kind == .consoleLost ? finding.excerpt : "kernel \(finding.description)"
            FileHandle.standardError.write(Data("daxrig: \(text)\n".utf8))
        }
        if result.outcome != .commandExited(status: 0, signal: nil) {
            FileHandle.standardError.write(Data("daxrig: \(result.outcome)\n".utf8))
        }
        if let log = result.consoleLog {
            FileHandle.standardError.write(Data("daxrig: console log kept at \(log)\n".utf8))
        }
        if let vmcore = result.vmcore {
            let vmlinux = KernelFiles(bzImage: kernelPath).vmlinux
            let readers = Files.exists(vmlinux) ? " (crash \(vmlinux) \(vmcore), or drgn -c \(vmcore) -s \(vmlinux))" : ""
            FileHandle.standardError.write(Data("daxrig: vmcore kept at \(vmcore)\(readers)\n".utf8))
        } else if dumpOnCrash, case .kernelCrash = result.outcome {
            FileHandle.standardError.write(Data(("daxrig: no vmcore: a dump is taken of a guest the kernel stopped (a panic, or a stall with "
                + "the agent silent); this report left the guest running, or the dump failed (its line above)\n").utf8))
        }
        throw ExitCode(result.outcome.exitStatus)
    }
}
