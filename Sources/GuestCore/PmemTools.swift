#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import DaxRigProtocol

/// A namespace as `ndctl list` or `ndctl create-namespace` prints it.
public struct NdctlNamespace: Decodable, Equatable, Sendable {
    public var dev: String?
    public var mode: String?
    public var blockdev: String?

    public init(dev: String?, mode: String?, blockdev: String?) {
        (self.dev, self.mode, self.blockdev) = (dev, mode, blockdev)
    }

    /// ndctl prints one JSON object for a single namespace and an array for several;
    /// anything else is no namespace.
    public static func decode(_ output: String) -> [NdctlNamespace] {
        let data = Data(output.utf8)
        if let many = try? JSONDecoder().decode([NdctlNamespace].self, from: data) { return many }
        if let one = try? JSONDecoder().decode(NdctlNamespace.self, from: data) { return [one] }
        return []
    }
}

extension PmemSetup {
    /// The mkfs for a pmem file system: xfs with su=2m, so allocations are 2 MiB-aligned
    /// and DAX faults can map whole PMDs; ext4 with 4 KiB blocks.
    public static func mkfsCommand(_ fileSystem: PmemSetup.FileSystem, device: String) -> [String] {
        switch fileSystem {
        case .ext4: return ["mkfs.ext4", "-F", "-q", "-b", "4096", device]
        case .xfs, .none: return ["mkfs.xfs", "-f", "-q", "-d", "su=2m,sw=1", "-m", "reflink=0", device]
        }
    }
}
