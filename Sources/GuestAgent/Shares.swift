import DaxRigProtocol
import Glibc

/// Mounts the plan's host directories (GuestPlan.shares) before the command: virtio-fs
/// first, then 9p, because the host may have fallen back to 9p after the plan was
/// written. Each share is a step naming the transport that mounted it.
enum Shares {
    /// 9p over virtio: 512000 is 6.1's largest msize for virtio (125 pages); cache=mmap
    /// lets a program map its files shared, as a reproducer on a share may.
    static let ninePOptions = "trans=virtio,version=9p2000.L,msize=512000,cache=mmap"

    static func mount(_ shares: [ShareMount], channel: Channel) throws {
        for share in shares {
            let started = Clock.now()
            do {
                try FileIO.makeDirectories(share.guestPath)
            } catch let failure as AgentFailure {
                throw AgentFailure("share", failure.message)
            }
            var tried: [String] = []
            var mounted: ShareMount.Transport?
            for transport in ShareMount.Transport.allCases {
                let spec = Mounts.Spec(source: share.tag, target: share.guestPath, type: transport.fileSystemType,
                                       flags: share.readOnly ? UInt(MS_RDONLY) : 0,
                                       options: transport == .ninep ? ninePOptions : nil)
                do {
                    try Mounts.mount(spec)
                    mounted = transport
                    break
                } catch let failure as AgentFailure {
                    tried.append("\(transport.rawValue): \(failure.message)")
                }
            }
            guard let mounted else {
                throw AgentFailure("share", "host share \(share.tag) could not be mounted on \(share.guestPath): "
                    + tried.joined(separator: "; "))
            }
            channel.send(.step(name: "share", detail: "\(share.tag) on \(share.guestPath) via \(mounted.rawValue)"
                + (share.readOnly ? ", read-only" : ""), seconds: Clock.now() - started))
        }
    }
}
