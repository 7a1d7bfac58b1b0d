import CLibvirt
import DaxRigSupport
import Foundation

/// libvirt's default event loop, run on a thread of its own. A non-blocking stream
/// receives nothing without it (tried: a console stream stayed empty for 60 s of a
/// guest that printed 20 KB), and a connection uses it only when it is registered
/// before the connection opens. Started by the first boot (every boot reads streams);
/// connections that read none (doctor, capacity) gain nothing from it.
enum LibvirtEventLoop {
    static let started: Void = {
        virEventRegisterDefaultImpl()
        let thread = Thread {
            blockSIGPIPE()
            while true { _ = virEventRunDefaultImpl() }
        }
        thread.name = "libvirt-events"
        thread.start()
    }()
}

/// SIGPIPE held off the calling thread: libvirt's client writes its sockets with plain
/// write(2), and a host that goes away mid-write must be an error, not daxrig's death.
/// Per thread: children spawned elsewhere keep the default.
func blockSIGPIPE() {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGPIPE)
    pthread_sigmask(SIG_BLOCK, &set, nil)
}

/// A guest's character device as a libvirt stream: its serial console
/// (virDomainOpenConsole) or a virtio-serial channel (virDomainOpenChannel), over the
/// connection's own transport, so it reads the same from any host. Non-blocking.
final class LibvirtStream: GuestStream, @unchecked Sendable {
    let pointer: virStreamPtr
    let what: String

    private init(connection: LibvirtConnection, what: String) throws {
        guard let pointer = virStreamNew(connection.pointer, UInt32(VIR_STREAM_NONBLOCK.rawValue)) else {
            throw LibvirtError.last("open a stream to \(connection.uri) for \(what)")
        }
        self.pointer = pointer
        self.what = what
    }

    deinit { virStreamFree(pointer) }

    /// The domain's first serial port.
    static func console(of domain: LibvirtDomain) throws -> LibvirtStream {
        let stream = try LibvirtStream(connection: domain.connection, what: "the console of \(domain.name)")
        guard virDomainOpenConsole(domain.pointer, nil, stream.pointer, UInt32(VIR_DOMAIN_CONSOLE_FORCE.rawValue)) == 0 else {
            throw LibvirtError.last("open \(stream.what)")
        }
        return stream
    }

    /// The domain's virtio-serial channel `name`.
    static func channel(_ name: String, of domain: LibvirtDomain) throws -> LibvirtStream {
        let stream = try LibvirtStream(connection: domain.connection, what: "channel \(name) of \(domain.name)")
        guard virDomainOpenChannel(domain.pointer, name, stream.pointer, UInt32(VIR_DOMAIN_CHANNEL_FORCE.rawValue)) == 0 else {
            throw LibvirtError.last("open \(stream.what)")
        }
        return stream
    }

    func receive(into buffer: UnsafeMutableRawBufferPointer) -> StreamReceived {
        let got = virStreamRecv(pointer, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), buffer.count)
        switch got {
        case 0: return .ended
        case -2: return .nothingYet
        case ..<0: return .failed(LibvirtError.last("read \(what)").message)
        default: return .bytes(Int(got))
        }
    }

    /// Up to `bytes.count` bytes toward the guest. Through libvirt's remote driver
    /// (every URI daxrig opens, qemu:///system too) a send is queued whole or fails;
    /// `.notNow` (a non-blocking stream with a full buffer, -2) is handled for drivers
    /// that can say it.
    func send(_ bytes: UnsafeRawBufferPointer) -> StreamSent {
        let put = virStreamSend(pointer, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), bytes.count)
        switch put {
        case -2: return .notNow
        case ..<0: return .failed(LibvirtError.last("write \(what)").message)
        default: return .bytes(Int(put))
        }
    }

    /// Ends the stream from our side; what the guest still had to say is dropped.
    func abort() { _ = virStreamAbort(pointer) }
}
