#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Everything the guest agent tells the host, one JSON object per line on the
/// virtio-serial port named `AgentMessage.channelName`. The serial console carries
/// only the kernel's own messages, so the two never interleave.
public enum AgentMessage: Codable, Sendable, Equatable {
    /// The virtio-serial port name the agent writes to (libvirt channel target name).
    public static let channelName = "org.daxrig.agent"

    /// The agent runs as PID 1; `uptime` is the guest's /proc/uptime at that moment.
    case started(uptime: Double, kernelRelease: String)
    /// A step of the agent's own (mounting, ndctl, mkfs), for progress and the record.
    case step(name: String, detail: String, seconds: Double)
    /// The namespace and file system are made and synced, nothing mounted yet: the host
    /// may copy the backing file as a template (`PmemSetup.template`). The agent waits
    /// for `HostMessage.proceed` before it mounts.
    case pmemFormatted
    /// pmem is mounted with DAX confirmed (dax=always in /proc/mounts and STATX_ATTR_DAX).
    case pmemReady(device: String, mountPoint: String, mountOptions: String)
    /// Bytes the command wrote to its stdout or stderr, as they came.
    case output(stream: OutputStream, data: Data)
    /// The command ended: exit status, or the signal that killed it.
    case exited(status: Int32, signal: Int32?, seconds: Double)
    /// The agent itself failed; it powers off right after sending this.
    case failed(stage: String, message: String)
    /// Structured results of later stages (workload reports), opaque to the boot layer.
    case report(name: String, text: String)
    /// Last message before power-off.
    case poweringOff

    public enum OutputStream: String, Codable, Sendable { case stdout, stderr }

    /// One line of the channel: the message as compact JSON and a newline.
    public func encodedLine() throws -> Data {
        var data = try JSONEncoder().encode(self)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    public static func decode(line: some Collection<UInt8>) throws -> AgentMessage {
        try JSONDecoder().decode(AgentMessage.self, from: Data(line))
    }
}
