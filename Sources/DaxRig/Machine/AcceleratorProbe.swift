import Foundation

extension Accelerator {
    /// KVM when it really works here, TCG otherwise; `$DAXRIG_ACCEL` (kvm or tcg)
    /// overrides. The verdict is remembered per host boot.
    public static func choose(kernel: String, cache: Cache = .default) -> Accelerator {
        if let forced = ProcessInfo.processInfo.environment["DAXRIG_ACCEL"].flatMap(Accelerator.init(rawValue:)) {
            return forced
        }
        let bootID = ((try? Files.read("/proc/sys/kernel/random/boot_id")) ?? "unknown").trimmingCharacters(in: .whitespacesAndNewlines)
        let memo = cache.root.appendingPathComponent("accelerator-\(bootID)").path
        if let known = (try? Files.read(memo)).flatMap(Accelerator.init(rawValue:)) { return known }
        let verdict: Accelerator = probeKVM(kernel: kernel, cache: cache).works ? .kvm : .tcg
        try? Files.write(verdict.rawValue, to: memo)
        return verdict
    }

    /// Tries KVM for real: /dev/kvm can exist while KVM is unusable (nested, as on
    /// these machines, where firmware still runs but a kernel hangs before its first
    /// line). Boots `kernel` under KVM with no root file system and waits for it to get
    /// as far as failing to mount one; an assert, a hang or an error within the time
    /// limit means no.
    public static func probeKVM(kernel: String, timeout: Double = 20, cache: Cache = .default) -> (works: Bool, detail: String) {
        guard Files.exists("/dev/kvm") else { return (false, "/dev/kvm does not exist") }
        guard let qemu = Command.which("qemu-system-x86_64") else { return (false, "qemu-system-x86_64 is not installed") }
        // In a run directory of our own, not at a name anyone can guess (and plant a
        // symbolic link at) in the system's temporary directory: root writes here.
        guard let directory = try? Leftovers.runDirectory(in: cache) else { return (false, "cannot make a directory for the probe in \(cache.runs.path)") }
        let console = directory.appendingPathComponent("kvm-probe.log").path
        defer { Files.removeDirectory(directory.path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: qemu)
        process.arguments = ["-accel", "kvm", "-machine", "pc", "-m", "128", "-nodefaults", "-display", "none", "-no-reboot",
                             "-kernel", kernel, "-append", "console=ttyS0 panic=-1", "-serial", "file:\(console)"]
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        do { try process.run() } catch { return (false, "cannot start QEMU: \(error)") }
        // Ctrl-C during the probe stops its QEMU too.
        let stop = Cleanup.shared.add("stop the KVM probe's QEMU") { [pid = process.processIdentifier] in kill(pid, SIGKILL) }
        defer { Cleanup.shared.drop(stop) }
        let deadline = Date().addingTimeInterval(timeout)
        var works = false
        while Date() < deadline, process.isRunning {
            if let text = try? Files.read(console), text.contains("VFS:") || text.contains("Kernel panic") { works = true; break }
            usleep(100_000)
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        if works { return (true, "a kernel booted under KVM") }
        if let text = try? Files.read(console), text.contains("VFS:") || text.contains("Kernel panic") { return (true, "a kernel booted under KVM") }
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return (false, stderr.isEmpty ? "a kernel under KVM printed nothing within \(Int(timeout)) s (hung)" : String(stderr.prefix(300)))
    }
}
