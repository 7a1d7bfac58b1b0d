#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A host directory the guest mounts before the command (`daxrig boot --share`). The
/// host picks the transport when it starts the domain (virtio-fs, or 9p where virtiofsd
/// cannot start), so the plan names only the tag: the agent tries virtio-fs, then 9p,
/// and reports which one mounted.
public struct ShareMount: Codable, Sendable, Equatable {
    /// The mount tag of the domain's filesystem device (virtio-fs allows 36 bytes).
    public var tag: String
    public var guestPath: String
    public var readOnly: Bool

    public init(tag: String, guestPath: String, readOnly: Bool) {
        self.tag = tag
        self.guestPath = guestPath
        self.readOnly = readOnly
    }

    /// The tag of the `index`th share of a boot.
    public static func tag(_ index: Int) -> String { "daxrig\(index)" }

    /// How a share reached the guest, as the agent's mount found it.
    public enum Transport: String, Codable, Sendable, CaseIterable {
        case virtiofs = "virtio-fs"
        case ninep = "9p"

        /// The file system type mount(2) takes.
        public var fileSystemType: String {
            switch self {
            case .virtiofs: "virtiofs"
            case .ninep: "9p"
            }
        }
    }
}
