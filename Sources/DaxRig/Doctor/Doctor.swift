import Foundation
import DaxRigImage
import DaxRigKernel
import DaxRigMachine
import DaxRigSupport

/// One prerequisite of daxrig, checked on this host.
public struct DoctorCheck: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable { case ok, warning, failed }

    public var name: String
    public var status: Status
    public var detail: String
    /// What to do when it is not ok.
    public var fix: String?
}

/// Checks everything a run needs, cheapest first, and says how to fix what is missing.
public enum Doctor {
    public static func run(cache: Cache = .default) -> [DoctorCheck] {
        var checks: [DoctorCheck] = []
        func tool(_ name: String, _ purpose: String, optional: Bool = false) {
            if let path = Command.which(name) {
                checks.append(.init(name: name, status: .ok, detail: "\(path) (\(purpose))", fix: nil))
            } else {
                let package = HostPackages.package(for: name) ?? name
                checks.append(.init(name: name, status: optional ? .warning : .failed, detail: "not found (\(purpose))",
                                    fix: "apt-get install \(package), or run scripts/setup.sh"))
            }
        }

        for name in ["make", "gcc", "flex", "bison", "bc", "git", "tar", "strip", "lz4"] { tool(name, "kernel builds") }
        tool("ccache", "faster rebuilds", optional: true)
        let tarball = KernelSource.debianTarball
        checks.append(Files.exists(tarball)
            ? .init(name: "kernel source", status: .ok, detail: "\(tarball) (\(ByteSize.format(Files.size(tarball))))", fix: nil)
            : .init(name: "kernel source", status: .failed, detail: "\(tarball) is missing", fix: "apt-get install linux-source-6.1, or run scripts/setup.sh"))
        for name in ["busybox", "ndctl", "mkfs.ext4", "mkfs.xfs"] { tool(name, "guest image") }
        tool("qemu-system-x86_64", "the guest's machine")
        tool("virt-xml-validate", "domain XML checks in the tests", optional: true)

        checks.append(host(LibvirtConnection.defaultURI, name: "libvirt", fix: "run scripts/setup.sh (it starts virtlogd and libvirtd)"))

        if Files.exists("/dev/kvm") {
            var st = stat()
            stat("/dev/kvm", &st)
            let groupName = getgrgid(st.st_gid).map { String(cString: $0.pointee.gr_name) } ?? "\(st.st_gid)"
            let mode = st.st_mode & 0o777
            if groupName == "kvm" && mode & 0o060 == 0o060 {
                checks.append(.init(name: "/dev/kvm permissions", status: .ok, detail: "group kvm, mode \(String(mode, radix: 8))", fix: nil))
            } else {
                checks.append(.init(name: "/dev/kvm permissions", status: .warning,
                                    detail: "group \(groupName), mode \(String(mode, radix: 8)): libvirt re-probes QEMU on every call, each boot costs about a minute",
                                    fix: "run scripts/setup.sh (it sets Debian's usual root:kvm 0660)"))
            }
        }
        if let kernel = KernelStore(cache: cache).list().last {
            let probe = Accelerator.probeKVM(kernel: kernel.bzImage, cache: cache)
            let memo = Accelerator.remembered(cache: cache)
            let boots = memo.map { m in
                m.host == .current() ? "; runs use \(m.accelerator.rawValue), decided \(m.decided) (\(m.detail))"
                    : "; the remembered verdict (\(m.accelerator.rawValue)) was for another host state, the next run probes again"
            } ?? "; no verdict remembered, the next run probes"
            switch probe {
            case .works(let detail):
                checks.append(.init(name: "KVM", status: .ok, detail: "works (\(detail))\(boots)", fix: nil))
            case .fails(let detail):
                checks.append(.init(name: "KVM", status: .warning, detail: "does not work: \(detail); guests run under TCG\(boots)",
                                    fix: "nothing to do on a nested machine; on a real host check /dev/kvm and the BIOS virtualization setting"))
            case .inconclusive(let detail):
                checks.append(.init(name: "KVM", status: .warning, detail: "the probe could not tell: \(detail)\(boots)",
                                    fix: "fix what the probe names, then `daxrig doctor` again"))
            }
        } else {
            checks.append(.init(name: "KVM", status: .warning, detail: "not tried yet: it is tried by booting a kernel, and none is built",
                                fix: "run `daxrig kernel build`, then `daxrig doctor` again"))
        }

        do {
            let agent = try AgentBinary.locate()
            checks.append(.init(name: "guest agent", status: .ok, detail: agent, fix: nil))
        } catch {
            checks.append(.init(name: "guest agent", status: .failed, detail: "\(error)", fix: "run `swift build` in the daxrig checkout"))
        }
        return checks
    }

    /// Another libvirt host (`daxrig doctor --host URI`): the host itself, then the
    /// accelerator its boots use, decided there as a run decides it (tried if no
    /// verdict for it is remembered: the cache's newest kernel goes up and boots under
    /// KVM there), only over a transport daxrig boots on.
    public static func checks(host uri: String, cache: Cache = .default) -> [DoctorCheck] {
        let reached = host(uri)
        guard reached.status != .failed, let connection = try? LibvirtConnection(uri: uri) else { return [reached] }
        let name = "KVM on \(uri)"
        if let forced = Accelerator.forced {
            return [reached, .init(name: name, status: .warning, detail: "boots there use \(forced.rawValue), forced by DAXRIG_ACCEL (not tried)",
                                   fix: "unset DAXRIG_ACCEL to have each host tried")]
        }
        if let problem = LibvirtConnection.transportProblem(uri) {
            let memo = Accelerator.rememberedHosts(cache: cache)[uri]
            return [reached, .init(name: name, status: .warning,
                                   detail: "not tried: daxrig boots nothing over this transport (\(problem))"
                                       + (memo.map { "; remembered: \($0.accelerator.rawValue), \($0.detail)" } ?? ""), fix: nil)]
        }
        guard let kernel = KernelStore(cache: cache).list().last else {
            return [reached, .init(name: name, status: .warning, detail: "not tried yet: it is tried by booting a kernel there, and none is built",
                                   fix: "run `daxrig kernel build`, then `daxrig doctor --host \(uri)` again")]
        }
        let accelerator = Accelerator.choose(on: connection, kernel: kernel.bzImage, cache: cache)
        let memo = Accelerator.rememberedHosts(cache: cache)[uri]
        let why = memo.map { "\($0.detail), decided \($0.decided)" } ?? "the probe could not tell; the next run there tries again"
        if accelerator == .kvm { return [reached, .init(name: name, status: .ok, detail: "works: boots there use KVM (\(why))", fix: nil)] }
        return [reached, .init(name: name, status: .warning, detail: "boots there use TCG (\(why))",
                               fix: "nothing to do on a nested host; on a real one check its /dev/kvm and BIOS virtualization setting. "
                                   + "A verdict holds for a day at most, and less if that host's libvirt, QEMU or KVM changes; remove its "
                                   + "entry from accelerator-hosts.json in the cache to try again sooner")]
    }

    /// A libvirt host, this one or another (`daxrig doctor --host URI`): reachable,
    /// its libvirt and QEMU, and what it offers guests. An unencrypted, unauthenticated
    /// transport (qemu+tcp) is a warning: tests reach namespace hosts so
    /// (scripts/test-host.sh); a fleet goes over ssh or TLS.
    public static func host(_ uri: String, name: String? = nil, fix: String? = nil) -> DoctorCheck {
        let name = name ?? "host \(uri)"
        do {
            let connection = try LibvirtConnection(uri: uri)
            let versions = try connection.versions()
            let capacity = try connection.capacity()
            let detail = "\(connection.uri): \(capacity.hostname), libvirt \(versions.libvirt), QEMU \(versions.hypervisor), "
                + "\(capacity.cpus) CPUs (\(capacity.cpuModel)), \(ByteSize.format(capacity.memoryBytes)) memory, "
                + "\(ByteSize.format(capacity.freeMemoryBytes)) free"
            if uri.hasPrefix("qemu+tcp://") {
                return .init(name: name, status: .warning, detail: detail + "; qemu+tcp is neither encrypted nor authenticated",
                             fix: "reach hosts over qemu+ssh:// or qemu+tls:// outside tests")
            }
            return .init(name: name, status: .ok, detail: detail, fix: nil)
        } catch {
            return .init(name: name, status: .failed, detail: "\(error)",
                         fix: fix ?? "start libvirtd on that host, listening for this transport (qemu+ssh: sshd and a login "
                            + "that may use libvirt; qemu+tls: listen_tls and certificates; qemu+tcp: listen_tcp, tests only)")
        }
    }
}
