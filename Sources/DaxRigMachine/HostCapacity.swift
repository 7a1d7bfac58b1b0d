import CLibvirt
import Foundation

/// What a libvirt host offers guests, as libvirt itself reports it over whatever
/// connection reaches the host: its CPUs and memory (virNodeGetInfo) and the memory
/// free right now (virNodeGetFreeMemory). Cells are placed on hosts by these figures
/// (issue 19), as `--jobs` places them on this one by /proc.
public struct HostCapacity: Sendable, Codable, Equatable {
    /// The host's name as libvirtd there knows it, not the URI's.
    public var hostname: String
    public var cpus: Int
    public var cpuModel: String
    public var memoryBytes: UInt64
    public var freeMemoryBytes: UInt64
}

extension LibvirtConnection {
    public func capacity() throws -> HostCapacity {
        var info = virNodeInfo()
        guard virNodeGetInfo(pointer, &info) == 0 else { throw LibvirtError.last("read the CPUs and memory of \(uri) (virNodeGetInfo)") }
        // 0 is libvirt's error return: no host has no free memory at all.
        let freeBytes = virNodeGetFreeMemory(pointer)
        guard freeBytes > 0 else { throw LibvirtError.last("read the free memory of \(uri) (virNodeGetFreeMemory)") }
        let model = withUnsafeBytes(of: info.model) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        var hostname = "?"
        if let name = virConnectGetHostname(pointer) {
            hostname = String(cString: name)
            free(name)
        }
        return HostCapacity(hostname: hostname, cpus: Int(info.cpus), cpuModel: model, memoryBytes: UInt64(info.memory) * 1024,
                            freeMemoryBytes: freeBytes)
    }
}
