import CLibvirt
import Foundation

/// An open connection to libvirtd (qemu:///system unless $DAXRIG_LIBVIRT_URI says
/// otherwise). Domains daxrig creates are tied to it: they are started with
/// AUTODESTROY, so libvirtd destroys them when this connection closes, even if
/// daxrig is killed with SIGKILL.
public final class LibvirtConnection: @unchecked Sendable {
    let pointer: virConnectPtr
    public let uri: String

    public static var defaultURI: String {
        ProcessInfo.processInfo.environment["DAXRIG_LIBVIRT_URI"].flatMap { $0.isEmpty ? nil : $0 } ?? "qemu:///system"
    }

    public init(uri: String = LibvirtConnection.defaultURI) throws {
        LibvirtError.silenceDefaultPrinting
        guard let pointer = virConnectOpen(uri) else {
            throw LibvirtError.last("connect to \(uri)", hint: uri == Self.defaultURI
                ? "Is libvirtd running? scripts/setup.sh starts it (virtlogd -d; libvirtd -d)."
                : "Is libvirtd running on that host and reachable over this transport? `daxrig doctor --host \(uri)` checks it.")
        }
        self.pointer = pointer
        self.uri = uri
    }

    deinit { virConnectClose(pointer) }

    /// False once libvirt knows the connection is gone (the host's libvirtd died, or
    /// keepalive went unanswered).
    public var isAlive: Bool { virConnectIsAlive(pointer) == 1 }

    /// Probes the host every `interval` seconds and gives the connection up after
    /// `count` probes unanswered: a cut network is otherwise silent. Needs the event
    /// loop (LibvirtEventLoop), so only connections that run with one use it.
    func keepAlive(interval: Int32 = 5, count: UInt32 = 3) {
        _ = virConnectSetKeepAlive(pointer, interval, count)
    }

    /// Why `uri` cannot name a libvirt host of QEMU guests; nil when it can. A password
    /// in it is refused: the command line is kept in the store and in logs.
    public static func uriProblem(_ uri: String) -> String? {
        guard uri.range(of: #"^qemu(\+[a-z0-9]+)?://"#, options: .regularExpression) != nil else {
            return "not a libvirt URI of the QEMU driver; give one such as qemu:///system, qemu+ssh://user@host/system or qemu+tls://host/system"
        }
        if let authority = uri.split(separator: "/", omittingEmptySubsequences: false).dropFirst(2).first,
           let at = authority.lastIndex(of: "@"), authority[..<at].contains(":") {
            return "a password in the URI would be kept in the results store and in logs; use ssh keys or TLS certificates"
        }
        return nil
    }

    /// Why daxrig will not boot on `uri` outside a test: a transport with neither
    /// encryption nor authentication. nil when it will, or when `insecureAllowed`
    /// ($DAXRIG_INSECURE_HOSTS=1: a namespace host on a private link, scripts/test-host.sh).
    public static func transportProblem(_ uri: String,
                                        insecureAllowed: Bool = ProcessInfo.processInfo.environment["DAXRIG_INSECURE_HOSTS"] == "1") -> String? {
        guard !insecureAllowed, uri.hasPrefix("qemu+tcp://") else { return nil }
        return "qemu+tcp has neither encryption nor authentication; reach the host over qemu+ssh:// or qemu+tls://, "
            + "or set DAXRIG_INSECURE_HOSTS=1 for a test host on a private link (scripts/test-host.sh)"
    }

    /// libvirt's and the hypervisor's (QEMU's) versions, as "9.0.0" and "7.2.0".
    public func versions() throws -> (libvirt: String, hypervisor: String) {
        var library: UInt = 0, hypervisor: UInt = 0
        guard virConnectGetLibVersion(pointer, &library) == 0 else { throw LibvirtError.last("read libvirt's version") }
        guard virConnectGetVersion(pointer, &hypervisor) == 0 else { throw LibvirtError.last("read QEMU's version") }
        func text(_ v: UInt) -> String { "\(v / 1_000_000).\(v / 1000 % 1000).\(v % 1000)" }
        return (text(library), text(hypervisor))
    }

    /// Starts a transient domain from `xml`, destroyed by libvirtd if this connection goes.
    public func createTransient(xml: String, paused: Bool = false) throws -> LibvirtDomain {
        let flags = VIR_DOMAIN_START_AUTODESTROY.rawValue | (paused ? VIR_DOMAIN_START_PAUSED.rawValue : 0)
        guard let domain = virDomainCreateXML(pointer, xml, UInt32(flags)) else {
            throw LibvirtError.last("start a domain")
        }
        return LibvirtDomain(pointer: domain, connection: self)
    }

    /// Destroys the domain called `name` if it exists: the cleanup for a domain whose
    /// start may still be under way when the user presses Ctrl-C.
    public func destroyDomain(named name: String) throws {
        guard let domain = virDomainLookupByName(pointer, name) else { return }
        defer { virDomainFree(domain) }
        if virDomainDestroy(domain) != 0 {
            let error = LibvirtError.last("destroy domain \(name)")
            if error.isNoDomain || error.isNotRunning { return }
            throw error
        }
    }

    /// Names of the running domains, to check that none of ours is left behind.
    public func activeDomainNames() throws -> [String] {
        try activeDomains { domain in virDomainGetName(domain).map { String(cString: $0) } }
    }

    /// The running domains' XML, whoever started them: what files they use (`gc --host`
    /// leaves a kernel or initrd a guest booted from).
    public func activeDomainDescriptions() throws -> [String] {
        try activeDomains { domain in
            guard let xml = virDomainGetXMLDesc(domain, 0) else { return nil }
            defer { free(xml) }
            return String(cString: xml)
        }
    }

    private func activeDomains<T>(_ each: (virDomainPtr) -> T?) throws -> [T] {
        var list: UnsafeMutablePointer<virDomainPtr?>?
        let count = virConnectListAllDomains(pointer, &list, UInt32(VIR_CONNECT_LIST_DOMAINS_ACTIVE.rawValue))
        guard count >= 0, let list else { throw LibvirtError.last("list domains") }
        defer { free(list) }
        return (0..<Int(count)).compactMap { index in
            guard let domain = list[index] else { return nil }
            defer { virDomainFree(domain) }
            return each(domain)
        }
    }
}

/// A domain daxrig started.
public final class LibvirtDomain: @unchecked Sendable {
    let pointer: virDomainPtr
    /// Held so the connection (and with it AUTODESTROY) lives as long as the domain.
    let connection: LibvirtConnection
    public let name: String

    init(pointer: virDomainPtr, connection: LibvirtConnection) {
        self.pointer = pointer
        self.connection = connection
        name = virDomainGetName(pointer).map { String(cString: $0) } ?? "?"
    }

    deinit { virDomainFree(pointer) }

    /// libvirt's state of the domain; a transient domain that ended no longer exists,
    /// which reads as `.gone`.
    public enum State: Sendable, Equatable {
        case running, paused, shuttingDown, shutOff, crashed, gone, other(Int32)
    }

    public func state() -> State {
        var state: Int32 = 0, reason: Int32 = 0
        guard virDomainGetState(pointer, &state, &reason, 0) == 0 else { return .gone }
        switch UInt32(state) {
        case VIR_DOMAIN_RUNNING.rawValue, VIR_DOMAIN_BLOCKED.rawValue: return .running
        case VIR_DOMAIN_PAUSED.rawValue, VIR_DOMAIN_PMSUSPENDED.rawValue: return .paused
        case VIR_DOMAIN_SHUTDOWN.rawValue: return .shuttingDown
        case VIR_DOMAIN_SHUTOFF.rawValue: return .shutOff
        case VIR_DOMAIN_CRASHED.rawValue: return .crashed
        default: return .other(state)
        }
    }

    public var isActive: Bool { virDomainIsActive(pointer) == 1 }

    /// Lets a domain started paused run.
    public func resume() throws {
        guard virDomainResume(pointer) == 0 else { throw LibvirtError.last("resume domain \(name)") }
    }

    /// Stops the domain at once. A domain that already ended is not an error.
    public func destroy() throws {
        if virDomainDestroy(pointer) != 0 {
            let error = LibvirtError.last("destroy domain \(name)")
            if error.isNoDomain || error.isNotRunning { return }
            throw error
        }
    }

    /// The guest's memory as a kdump-compressed (zlib) vmcore at `path`, written by QEMU
    /// (dump-guest-memory), which crash, drgn and makedumpfile read. Memory only: the
    /// kdump format has no device state, and libvirt refuses it without this flag.
    public func dumpMemory(to path: String) throws {
        let format = Int32(VIR_DOMAIN_CORE_DUMP_FORMAT_KDUMP_ZLIB.rawValue)
        if virDomainCoreDumpWithFormat(pointer, path, UInt32(format), UInt32(VIR_DUMP_MEMORY_ONLY.rawValue)) != 0 {
            throw LibvirtError.last("dump the memory of domain \(name) to \(path)")
        }
    }

    /// Polls until the domain stopped, at most `timeout` seconds; true if it did.
    public func waitUntilStopped(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !isActive { return true }
            usleep(50_000)
        }
        return !isActive
    }
}
