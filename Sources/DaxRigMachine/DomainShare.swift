import DaxRigProtocol
import DaxRigSupport

/// One host directory as a domain's filesystem device: virtio-fs (libvirt starts
/// virtiofsd for it) or 9p (QEMU serves it itself).
public struct DomainShare: Sendable, Equatable {
    public var source: String
    public var tag: String
    public var readOnly: Bool
    public var transport: ShareMount.Transport
    /// virtiofsd to start (virtio-fs only).
    public var virtiofsd: String

    public init(source: String, tag: String, readOnly: Bool, transport: ShareMount.Transport, virtiofsd: String = HostShare.virtiofsd) {
        self.source = source
        self.tag = tag
        self.readOnly = readOnly
        self.transport = transport
        self.virtiofsd = virtiofsd
    }

    /// The `<filesystem>` element. libvirt 9.0 refuses `<readonly/>` for virtio-fs, so a
    /// read-only virtio-fs share is read-only by the guest's mount (MS_RDONLY) alone.
    func xml() -> [String] {
        var lines = ["    <filesystem type='mount' accessmode='passthrough'>"]
        switch transport {
        case .virtiofs:
            lines += ["      <driver type='virtiofs'/>", "      <binary path='\(XMLText.escape(virtiofsd))'/>"]
        case .ninep:
            break
        }
        lines += ["      <source dir='\(XMLText.escape(source))'/>", "      <target dir='\(XMLText.escape(tag))'/>"]
        if readOnly && transport == .ninep { lines.append("      <readonly/>") }
        lines.append("    </filesystem>")
        return lines
    }
}
