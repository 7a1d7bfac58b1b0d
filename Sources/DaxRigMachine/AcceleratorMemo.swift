import Foundation
import DaxRigSupport

/// What a KVM verdict depends on besides the kernel. A verdict is reused only on the
/// host it was measured on: the same host boot, the same QEMU binary, the same
/// /dev/kvm and the same kvm modules. Loading kvm_intel after a first probe, or an
/// upgraded QEMU, makes the next run probe again instead of living with the old answer
/// until the host reboots.
public struct HostFingerprint: Codable, Equatable, Sendable {
    public var bootID: String
    public var qemu: String
    public var kvmDevice: String
    public var kvmModules: [String]

    public init(bootID: String, qemu: String, kvmDevice: String, kvmModules: [String]) {
        self.bootID = bootID
        self.qemu = qemu
        self.kvmDevice = kvmDevice
        self.kvmModules = kvmModules
    }

    /// This host, now.
    public static func current() -> HostFingerprint {
        let bootID = ((try? Files.read("/proc/sys/kernel/random/boot_id")) ?? "unknown")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        func identity(_ path: String?) -> String {
            guard let path else { return "absent" }
            var st = stat()
            guard stat(path, &st) == 0 else { return "absent" }
            return "\(path) dev \(st.st_dev) ino \(st.st_ino) rdev \(st.st_rdev) size \(st.st_size) mtime \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
        }
        let modules = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/module")) ?? [])
            .filter { $0.hasPrefix("kvm") }.sorted()
        return HostFingerprint(bootID: bootID, qemu: identity(Command.which("qemu-system-x86_64")),
                               kvmDevice: identity("/dev/kvm"), kvmModules: modules)
    }
}

/// What one KVM probe found out. Only a conclusive answer is remembered: a QEMU that
/// could not be started, or stopped for a reason that is not KVM's, says nothing about
/// KVM, and remembering it would pin every boot of the host to TCG (ten times slower)
/// on the strength of one accident.
public enum ProbeOutcome: Sendable, Equatable {
    /// A kernel booted under KVM.
    case works(String)
    /// KVM does not work here: no /dev/kvm, QEMU refused it, or a kernel under it hung.
    case fails(String)
    /// The probe itself failed; no verdict.
    case inconclusive(String)

    public var works: Bool { if case .works = self { true } else { false } }
    public var detail: String {
        switch self { case .works(let d), .fails(let d), .inconclusive(let d): d }
    }

    /// Whether a probe kernel's console shows it got as far as its root file system
    /// (failing to mount one, or the panic that follows): the one sign, here or on
    /// another host, that a kernel really ran under the accelerator tried.
    static func reachedRoot(_ console: String) -> Bool {
        console.contains("VFS:") || console.contains("Kernel panic")
    }

    /// An error from starting the probe: one that names KVM ("Could not access KVM
    /// kernel module", "failed to initialize kvm") is a verdict; any other is QEMU's,
    /// libvirt's or ours, and says nothing about KVM.
    static func startFailed(_ said: String) -> ProbeOutcome {
        said.lowercased().contains("kvm") ? .fails(said) : .inconclusive(said)
    }
}

/// The remembered verdict, with the reason and the host it holds for: this machine
/// (`HostFingerprint`) or another libvirt host (`RemoteHostFingerprint`), each told
/// apart by what it can see of its host.
public struct AcceleratorMemo<Host: Codable & Equatable & Sendable>: Codable, Equatable, Sendable {
    public var accelerator: Accelerator
    public var detail: String
    public var host: Host
    public var decided: Date

    /// The accelerator for `host`: the memo's when it was decided on this very host,
    /// otherwise `probe`'s, and the memo to keep (nil: keep none, the answer was no
    /// answer).
    public static func decide(memo: AcceleratorMemo?, host: Host, now: Date = Date(),
                              probe: () -> ProbeOutcome) -> (accelerator: Accelerator, memo: AcceleratorMemo?) {
        if let memo, memo.host == host { return (memo.accelerator, memo) }
        let outcome = probe()
        switch outcome {
        case .works(let detail): return (.kvm, AcceleratorMemo(accelerator: .kvm, detail: detail, host: host, decided: now))
        case .fails(let detail): return (.tcg, AcceleratorMemo(accelerator: .tcg, detail: detail, host: host, decided: now))
        case .inconclusive: return (.tcg, nil)
        }
    }
}
