import DaxRigSupport
import CLibvirt

/// A libvirt call that failed, with libvirt's own message and what to do about it.
public struct LibvirtError: RigError, Equatable {
    /// The rig or the host failed: exit 3.
    public var exitStatus: ExitStatus { .infrastructure }

    /// What daxrig was doing ("connect to qemu:///system", "start domain daxrig-...").
    public var operation: String
    /// virErrorNumber and virErrorDomain, for telling cases apart.
    public var code: Int32
    public var domain: Int32
    public var message: String
    public var hint: String?

    public var description: String {
        "libvirt: cannot \(operation): \(message)" + (hint.map { "\n\($0)" } ?? "")
    }

    /// The calling thread's last libvirt error (libvirt keeps them per thread).
    static func last(_ operation: String, hint: String? = nil) -> LibvirtError {
        guard let error = virGetLastError() else {
            return LibvirtError(operation: operation, code: -1, domain: -1, message: "unknown error", hint: hint)
        }
        let message = error.pointee.message.map { String(cString: $0) } ?? "unknown error"
        var hint = hint
        if hint == nil, error.pointee.code == Int32(VIR_ERR_SYSTEM_ERROR.rawValue) || error.pointee.code == Int32(VIR_ERR_NO_CONNECT.rawValue),
           message.contains("libvirt-sock") || message.contains("Failed to connect") {
            hint = "Is libvirtd running? scripts/setup.sh starts it (virtlogd -d; libvirtd -d)."
        }
        return LibvirtError(operation: operation, code: error.pointee.code, domain: error.pointee.domain, message: message, hint: hint)
    }

    /// libvirt prints every error on stderr by default; daxrig reports them itself.
    static let silenceDefaultPrinting: Void = {
        virSetErrorFunc(nil) { _, _ in }
    }()

    var isNoDomain: Bool { code == Int32(VIR_ERR_NO_DOMAIN.rawValue) }
    /// QEMU died while libvirt was still connecting to its monitor: before the guest ran
    /// an instruction (seen here as a rare crash of QEMU 7.2's call_rcu thread under load),
    /// so starting again is safe.
    public var isQEMUExitAtStart: Bool {
        code == Int32(VIR_ERR_INTERNAL_ERROR.rawValue)
            && (message.contains("process exited while connecting to monitor") || message.contains("qemu unexpectedly closed the monitor"))
    }
    var isNotRunning: Bool { code == Int32(VIR_ERR_OPERATION_INVALID.rawValue) }
}
