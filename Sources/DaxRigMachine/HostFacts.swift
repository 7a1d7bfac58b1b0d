import DaxRigProtocol
import DaxRigSupport
import Foundation

/// What a run learns about its host once, before its first boot, and hands down: the
/// accelerator every boot of the run uses, the memory and disk its spec must fit in,
/// and the versions the results store records with it. Each was decided again where
/// it was needed (the accelerator per boot, the capacity three times per run, the
/// versions by the store dialling libvirtd itself), so one run's boots could disagree.
public struct HostFacts: Sendable, Equatable {
    public var accelerator: Accelerator
    public var memoryAvailable: UInt64
    public var diskAvailable: UInt64
    /// nil when libvirtd could not be asked (the run's first boot then says why).
    public var libvirtVersion: String?
    public var qemuVersion: String?
    /// The libvirt host's own name when it is another machine's (`--host`); nil here.
    public var name: String?

    public init(accelerator: Accelerator, memoryAvailable: UInt64, diskAvailable: UInt64,
                libvirtVersion: String? = nil, qemuVersion: String? = nil) {
        self.accelerator = accelerator
        self.memoryAvailable = memoryAvailable
        self.diskAvailable = diskAvailable
        self.libvirtVersion = libvirtVersion
        self.qemuVersion = qemuVersion
    }

    /// Measures the host for a run of `kernel` (the KVM probe, if one is due, boots it),
    /// with `capacity` as measured already (callers check a spec against it first).
    public static func measure(kernel: String, cache: Cache, capacity: (memory: UInt64, disk: UInt64)) -> HostFacts {
        let versions = try? LibvirtConnection().versions()
        return HostFacts(accelerator: Accelerator.choose(kernel: kernel, cache: cache), memoryAvailable: capacity.memory,
                         diskAvailable: capacity.disk, libvirtVersion: versions?.libvirt, qemuVersion: versions?.hypervisor)
    }

    /// Memory available now (MemAvailable) and free disk where run directories go.
    public static func capacity(cache: Cache) -> (memory: UInt64, disk: UInt64) {
        let memory = (try? Files.read("/proc/meminfo")).flatMap { MemInfo(text: $0).bytes["MemAvailable"] } ?? 0
        var fs = statvfs()
        let path = (try? cache.directory(cache.runs))?.path ?? "/"
        let disk = statvfs(path, &fs) == 0 ? UInt64(fs.f_bavail) * UInt64(fs.f_frsize) : 0
        return (memory, disk)
    }
}

extension GuestRunner {
    /// The facts this runner carries, else the host measured now for `kernel`: its
    /// capacity first, handed to `fits`, which throws for what cannot fit, so a spec
    /// too big is refused before a KVM probe boots anything or libvirtd is dialled.
    public func hostFacts(kernel: String, fits: (_ memory: UInt64, _ disk: UInt64) throws -> Void) throws -> HostFacts {
        if let host {
            try fits(host.memoryAvailable, host.diskAvailable)
            return host
        }
        if let uri = policy.host {
            // Another host: its memory and versions as its libvirtd reports them; its disk
            // is its pool's, which libvirt checks as the volumes are made; its accelerator
            // probed there, once per host (Accelerator.choose(on:)).
            let connection: LibvirtConnection, capacity: HostCapacity
            do {
                // Keepalive, as a boot's: a network cut silently mid-probe ends the probe, not the night.
                _ = LibvirtEventLoop.started
                connection = try LibvirtConnection(uri: uri)
                connection.keepAlive()
                capacity = try connection.capacity()
            } catch {
                HostLoss.mark(uri)  // unreachable before the cell's first boot: the campaign places it elsewhere
                throw error
            }
            try fits(capacity.freeMemoryBytes, .max)
            let versions = try? connection.versions()
            let accelerator = Accelerator.choose(on: connection, kernel: kernel, cache: cache, progress: progress)
            var facts = HostFacts(accelerator: accelerator, memoryAvailable: capacity.freeMemoryBytes, diskAvailable: .max,
                                  libvirtVersion: versions?.libvirt, qemuVersion: versions?.hypervisor)
            facts.name = capacity.hostname
            return facts
        }
        let capacity = HostFacts.capacity(cache: cache)
        try fits(capacity.memory, capacity.disk)
        return HostFacts.measure(kernel: kernel, cache: cache, capacity: capacity)
    }

    /// This runner pinned to `host`: every boot through it uses the same accelerator.
    public func with(_ host: HostFacts) -> GuestRunner {
        var pinned = self
        pinned.host = host
        return pinned
    }
}
