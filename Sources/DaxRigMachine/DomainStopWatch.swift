import CLibvirt
import Foundation
import Synchronization

/// How libvirt says a domain stopped (its lifecycle event), so a boot can tell the
/// kernel's ending from QEMU's own death. A guest that powers off, panics or resets
/// ends in a stop daxrig or the domain's lifecycle actions asked for ("destroyed",
/// "shutdown"); QEMU that crashes (a TCG fault: a general protection fault in a vCPU
/// thread, seen here 2026-12-07) or is killed ends "failed", and then the guest said
/// nothing about the kernel at all: before this, that boot was the kernel's boot
/// failure (exit 111; a run's MISS, as a kernel that cannot boot is) or an agent
/// failure (112). Needs libvirt's event loop (LibvirtEventLoop), as the streams do.
final class DomainStopWatch: Sendable {
    /// The STOPPED event's detail (virDomainEventStoppedDetailType), once it came.
    private let detail = Mutex<Int32?>(nil)
    private let registration = Mutex<(connection: LibvirtConnection, id: Int32)?>(nil)

    /// Watches `domain`; nil where libvirt would not register the callback (the boot
    /// goes on, classified as before).
    static func watch(_ domain: LibvirtDomain) -> DomainStopWatch? {
        let watch = DomainStopWatch()
        let opaque = Unmanaged.passRetained(watch).toOpaque()
        let callback: @convention(c) (virConnectPtr?, virDomainPtr?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32 = { _, _, event, detail, opaque in
            guard let opaque, event == Int32(VIR_DOMAIN_EVENT_STOPPED.rawValue) else { return 0 }
            Unmanaged<DomainStopWatch>.fromOpaque(opaque).takeUnretainedValue().detail.withLock { $0 = $0 ?? detail }
            return 0
        }
        let release: @convention(c) (UnsafeMutableRawPointer?) -> Void = { opaque in
            opaque.map { Unmanaged<DomainStopWatch>.fromOpaque($0).release() }
        }
        let id = virConnectDomainEventRegisterAny(domain.connection.pointer, domain.pointer, Int32(VIR_DOMAIN_EVENT_ID_LIFECYCLE.rawValue),
                                                  unsafeBitCast(callback, to: virConnectDomainEventGenericCallback.self), opaque, release)
        guard id >= 0 else {
            Unmanaged<DomainStopWatch>.fromOpaque(opaque).release()
            return nil
        }
        watch.registration.withLock { $0 = (domain.connection, id) }
        return watch
    }

    /// Whether the domain stopped because QEMU died ("failed"), waiting up to `timeout`
    /// for the event: the channel closes as QEMU goes, the event follows it.
    func emulatorDied(within timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let detail = detail.withLock({ $0 }) { return detail == Int32(VIR_DOMAIN_EVENT_STOPPED_FAILED.rawValue) }
            guard Date() < deadline else { return false }
            usleep(20_000)
        }
    }

    /// Deregisters the callback (libvirt then releases the watch's reference).
    func stop() {
        guard let (connection, id) = registration.withLock({ value in defer { value = nil }; return value }) else { return }
        _ = virConnectDomainEventDeregisterAny(connection.pointer, id)
    }
}
