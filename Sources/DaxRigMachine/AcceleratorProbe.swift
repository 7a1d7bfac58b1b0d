import Foundation
import DaxRigSupport

extension Accelerator {
    /// KVM when it really works here, TCG otherwise; `$DAXRIG_ACCEL` (kvm or tcg)
    /// overrides. A conclusive verdict is remembered in the cache for as long as the
    /// host stays the same (its boot, QEMU, /dev/kvm, kvm modules: `HostFingerprint`);
    /// a probe that could not tell is not remembered, so the next run tries again (a run
    /// decides once, HostFacts, and all its boots use that).
    public static func choose(kernel: String, cache: Cache = .default) -> Accelerator {
        if let forced { return forced }
        let path = memoPath(cache)
        let known = remembered(cache: cache)
        let (accelerator, memo) = AcceleratorMemo.decide(memo: known, host: .current()) { probeKVM(kernel: kernel, cache: cache) }
        if let memo, memo != known, let data = try? JSONCoding.encoder.encode(memo) { try? Files.write(data, to: path) }
        if memo == nil { Files.remove(path) }
        return accelerator
    }

    /// `$DAXRIG_ACCEL` (kvm or tcg): the accelerator of this machine and of every host,
    /// untried. Anything else there is ignored.
    public static var forced: Accelerator? {
        ProcessInfo.processInfo.environment["DAXRIG_ACCEL"].flatMap(Accelerator.init(rawValue:))
    }

    /// The remembered verdict, if any (for `daxrig doctor`).
    public static func remembered(cache: Cache = .default) -> AcceleratorMemo<HostFingerprint>? {
        (try? Data(contentsOf: URL(fileURLWithPath: memoPath(cache)))).flatMap { try? JSONCoding.decoder.decode(AcceleratorMemo<HostFingerprint>.self, from: $0) }
    }

    static func memoPath(_ cache: Cache) -> String { cache.root.appendingPathComponent("accelerator.json").path }

    /// Tries KVM for real: /dev/kvm can exist while KVM is unusable (nested, as on
    /// these machines, where firmware still runs but a kernel hangs before its first
    /// line). Boots `kernel` under KVM with no root file system and waits for it to get
    /// as far as failing to mount one; an assert, a hang (ProbeWatch: a silent console
    /// for 8 s, or no root within `timeout`) or an error means no.
    public static func probeKVM(kernel: String, timeout: Double = 20, cache: Cache = .default) -> ProbeOutcome {
        guard Files.exists("/dev/kvm") else { return .fails("/dev/kvm does not exist") }
        guard let qemu = Command.which("qemu-system-x86_64") else { return .fails("qemu-system-x86_64 is not installed") }
        // In a run directory of our own, not at a name anyone can guess (and plant a
        // symbolic link at) in the system's temporary directory: root writes here.
        guard let directory = try? Leftovers.runDirectory(in: cache) else { return .inconclusive("cannot make a directory for the probe in \(cache.runs.path)") }
        let console = directory.appendingPathComponent("kvm-probe.log").path
        defer { Files.removeDirectory(directory.path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: qemu)
        process.arguments = ["-accel", "kvm", "-machine", "q35", "-m", "128", "-nodefaults", "-display", "none", "-no-reboot",
                             "-kernel", kernel, "-append", "console=ttyS0 panic=-1", "-serial", "file:\(console)"]
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        // Ctrl-C during the probe stops its QEMU too.
        let stop: Int
        do {
            stop = try Cleanup.shared.started({ _ in "stop the KVM probe's QEMU" }, start: {
                try process.run()
                return process.processIdentifier
            }, stop: { kill($0, SIGKILL) })
        } catch { return .inconclusive("cannot start QEMU: \(error)") }
        defer { Cleanup.shared.drop(stop) }
        // Lossy: one stray byte must neither hide a line nor pass for silence.
        func text() -> String? { Files.readLossy(console) }
        let started = Date()
        var opened: Date?
        var watch = ProbeWatch.watching
        while watch == .watching {
            let console = text()
            if opened == nil, console != nil { opened = Date() }
            let printed = !(console ?? "").isEmpty
            watch = ProbeWatch.judge(elapsed: Date().timeIntervalSince(started),
                                     silentFor: printed ? nil : opened.map { Date().timeIntervalSince($0) } ?? 0,
                                     reachedRoot: ProbeOutcome.reachedRoot(console ?? ""), running: process.isRunning, timeout: timeout)
            if watch == .watching { usleep(100_000) }
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        // The last lines may have come between the last look and QEMU's end, or its kill.
        if watch != .reachedRoot, let text = text(), ProbeOutcome.reachedRoot(text) { watch = .reachedRoot }
        if let verdict = watch.outcome(what: "KVM", where: "", timeout: timeout) { return verdict }
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if stderr.isEmpty { return .inconclusive("QEMU under KVM exited (status \(process.terminationStatus)) before the kernel printed anything, and said nothing") }
        return .startFailed(String(stderr.prefix(300)))
    }
}
