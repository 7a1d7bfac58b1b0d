import CLibvirt
import DaxRigSupport
import Foundation

/// What another host's KVM verdict depends on, as far as its libvirtd lets daxrig see
/// that host: which machine answers at the URI, its libvirt and QEMU, and what libvirt
/// there says of KVM guests. A kvm module loaded there, or /dev/kvm given to QEMU, changes
/// the last; an upgraded QEMU the versions; another machine behind the same name the
/// UUID: each makes the next run probe again. Its boot is the one thing libvirt does not
/// tell, so a verdict outlives a reboot that changed nothing of these.
public struct RemoteHostFingerprint: Codable, Equatable, Sendable {
    public var uri: String
    public var uuid: String
    public var libvirt: String
    public var hypervisor: String
    /// "offered <digest of the KVM domain capabilities>" or "refused: <libvirt's reason>".
    public var kvm: String

    public var kvmOffered: Bool { kvm.hasPrefix("offered") }

    public static func of(_ connection: LibvirtConnection) throws -> RemoteHostFingerprint {
        let versions = try connection.versions()
        let kvm: String
        switch connection.kvmCapabilities() {
        case .success(let xml): kvm = "offered " + ContentHash.of(xml).prefix(16)
        case .failure(let error): kvm = "refused: " + error.message
        }
        return RemoteHostFingerprint(uri: connection.uri, uuid: try connection.hostUUID(), libvirt: versions.libvirt,
                                     hypervisor: versions.hypervisor, kvm: kvm)
    }
}

extension LibvirtConnection {
    /// The host's UUID, from its capabilities (virConnectGetCapabilities).
    func hostUUID() throws -> String {
        guard let xml = virConnectGetCapabilities(pointer) else { throw LibvirtError.last("read the capabilities of \(uri)") }
        defer { free(xml) }
        let text = String(cString: xml)
        guard let open = text.range(of: "<uuid>"), let close = text.range(of: "</uuid>", range: open.upperBound..<text.endIndex) else {
            return "unknown"
        }
        return String(text[open.upperBound..<close.lowerBound])
    }

    /// libvirt's domain capabilities for KVM guests on q35 there, or its reason for
    /// having none (no /dev/kvm, a QEMU without KVM).
    func kvmCapabilities() -> Result<String, LibvirtError> {
        guard let xml = virConnectGetDomainCapabilities(pointer, nil, "x86_64", "q35", "kvm", 0) else {
            return .failure(LibvirtError.last("ask \(uri) for KVM guests"))
        }
        defer { free(xml) }
        return .success(String(cString: xml))
    }
}

extension Accelerator {
    /// Another host's accelerator, decided there as `choose` decides this machine's:
    /// KVM when libvirt there offers it and a kernel really boots under it, TCG
    /// otherwise. `$DAXRIG_ACCEL` overrides it, for this machine and every host alike.
    /// A conclusive verdict is remembered per URI (RemoteVerdicts) while the host's
    /// fingerprint holds, for a day at most: a host is tried about once a day, not per
    /// cell, and cells placed on it at once wait for its one try (cells on other hosts
    /// do not). A try that could not tell is not remembered, but this process does not
    /// try that host again: its boots use TCG, which every host has, as does a host
    /// that cannot even be fingerprinted.
    public static func choose(on connection: LibvirtConnection, kernel: String, cache: Cache = .default,
                              progress: ProgressSink = SilentProgress(), now: Date = Date()) -> Accelerator {
        if let forced { return forced }
        let uri = connection.uri
        guard !RemoteVerdicts.unanswered(uri), let host = try? RemoteHostFingerprint.of(connection) else { return .tcg }
        let lock = try? cache.lock("accelerator-" + ContentHash.of(uri).prefix(16))
        defer { lock?.release() }
        let stored = RemoteVerdicts.remembered(cache: cache)[uri]
        let known = stored.flatMap { now.timeIntervalSince($0.decided) < RemoteVerdicts.lifetime ? $0 : nil }
        var outcome: ProbeOutcome?
        let (accelerator, memo) = AcceleratorMemo.decide(memo: known, host: host, now: now) {
            progress.phase("host", "\(uri): trying KVM there (a kernel booted under it, up to 20 s, 8 when it prints nothing, about once a day per host)")
            outcome = probeKVM(on: connection, host: host, kernel: kernel, cache: cache, progress: progress)
            return outcome!
        }
        if memo != stored { RemoteVerdicts.remember(memo, for: uri, cache: cache) }
        if let memo {
            progress.phase("host", "\(uri): \(accelerator.rawValue) (\(memo.detail), decided \(memo.decided))")
        } else {
            RemoteVerdicts.markUnanswered(uri)
            progress.phase("host", "\(uri): tcg for this run; the KVM probe could not tell (\(outcome?.detail ?? "?"))")
        }
        return accelerator
    }

    /// The verdicts remembered for other hosts, by URI (for `daxrig doctor --host`).
    public static func rememberedHosts(cache: Cache = .default) -> [String: AcceleratorMemo<RemoteHostFingerprint>] {
        RemoteVerdicts.remembered(cache: cache)
    }

    /// Tries KVM on another host for real, as `probeKVM(kernel:)` does here: libvirt
    /// there offering KVM guests is not enough (a nested host offers them and hangs).
    /// Boots `kernel` (uploaded to daxrig's pool there, where its boots find it) as a
    /// domain of `type` with no root file system, and waits for it to get as far as
    /// failing to mount one. `type` is "qemu" only for the test that shows the probe
    /// can say yes, on hosts where no KVM works.
    public static func probeKVM(on connection: LibvirtConnection, host: RemoteHostFingerprint, kernel: String, type: String = "kvm",
                                timeout: Double = 20, cache: Cache = .default, progress: ProgressSink = SilentProgress()) -> ProbeOutcome {
        if type == "kvm", !host.kvmOffered { return .fails("libvirt on \(connection.uri) offers no KVM guests: \(host.kvm.dropFirst("refused: ".count))") }
        let pool: LibvirtPool, kernelPath: String, use: FileLock?
        do {
            pool = try connection.daxrigPool()
            let volume = try pool.upload(kernel, cache: cache)
            kernelPath = volume.path
            use = volume.use
            if volume.uploaded { progress.phase("host", "\(connection.uri): kernel uploaded (\(volume.bytes >> 20) MiB), first for the KVM probe") }
        } catch { return .inconclusive("staging the kernel on \(connection.uri): \(error)") }
        // Held until the probe's domain is gone: gc --host here leaves the kernel meanwhile.
        defer { use?.release() }
        let name = DomainSpec.uniqueName()
        let log = LibvirtPool.runVolume(name, "console.log")
        // Ctrl-C during the probe stops its domain and removes its log there too.
        let cleanup = Cleanup.shared.add("stop the KVM probe on \(connection.uri)") {
            try? connection.destroyDomain(named: name)
            RemoteBoot.release(domain: name, on: connection)
        }
        defer { Cleanup.shared.run(cleanup) }
        let domain: LibvirtDomain
        do {
            // Ctrl-C before this point ran the cleanup already: start nothing after it.
            guard !Cleanup.shared.interrupted else { return .inconclusive("interrupted") }
            domain = try connection.createTransient(xml: probeXML(name: name, type: type, kernel: kernelPath,
                                                                  consoleLog: (kernelPath as NSString).deletingLastPathComponent + "/" + log))
        } catch {
            return .startFailed(String("\(error)".prefix(300)))
        }
        // panic=-1 and on_reboot destroy: a kernel that got there ends its domain itself.
        var watch = ProbeWatch.remote(timeout: timeout, now: { Date().timeIntervalSinceReferenceDate },
                                      waitUntilStopped: { domain.waitUntilStopped(timeout: $0) },
                                      logBytes: { (try? pool.bytes(of: log)) ?? nil }, isActive: { domain.isActive })
        if watch != .ended { try? domain.destroy() }
        let text: String
        do {
            let directory = try Leftovers.runDirectory(in: cache)
            defer { Files.removeDirectory(directory.path) }
            let local = directory.appendingPathComponent("kvm-probe.log").path
            guard try pool.volumeNames().contains(log) else { return .inconclusive("the probe's domain on \(connection.uri) left no console log") }
            try pool.download(log, to: local)
            text = Files.readLossy(local) ?? ""
        } catch { return .inconclusive("reading the probe's console from \(connection.uri): \(error)") }
        let what = type == "kvm" ? "KVM" : type
        if ProbeOutcome.reachedRoot(text) { watch = .reachedRoot }
        if let verdict = watch.outcome(what: what, where: " on \(connection.uri)", timeout: timeout) { return verdict }
        return .inconclusive("the probe's domain on \(connection.uri) ended before its kernel printed anything")
    }

    static func probeXML(name: String, type: String, kernel: String, consoleLog: String) -> String {
        """
        <domain type='\(XMLText.escape(type))'>
          <name>\(XMLText.escape(name))</name>
          <memory unit='MiB'>128</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='q35'>hvm</type><kernel>\(XMLText.escape(kernel))</kernel><cmdline>console=ttyS0 panic=-1</cmdline></os>
          <features><acpi/></features>
          <on_poweroff>destroy</on_poweroff>
          <on_reboot>destroy</on_reboot>
          <on_crash>destroy</on_crash>
          <devices>
            <serial type='pty'><log file='\(XMLText.escape(consoleLog))' append='off'/><target port='0'/></serial>
            <memballoon model='none'/>
          </devices>
        </domain>
        """
    }
}
