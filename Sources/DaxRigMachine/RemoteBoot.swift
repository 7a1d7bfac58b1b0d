import DaxRigProtocol
import DaxRigSupport
import Foundation
import Synchronization

/// What a boot on another libvirt host (`--host`, issue 19) needs there, since that
/// host shares no file system with daxrig: the kernel and the initrd in daxrig's pool
/// (each uploaded once per content: the plan goes over the channel, so the initrd is
/// the cached image) and a sparse pmem volume per nvdimm (the boot's own, removed when
/// it ends). Its channel is a stream, as every boot's is, and so is its
/// console, which on this machine is a file (DomainStreams, `DomainSpec.Console`).
struct RemoteBoot {
    let pool: LibvirtPool
    let domain: String
    var kernel: String
    var initrd: String
    var pmem: [String]
    /// The kernel's and the image's use locks (`LibvirtPool.Volume.use`), held for the
    /// boot: `gc --host` on this machine never removes what a boot here stands on.
    let uses: [FileLock]

    /// Stages the boot's files on the connection's host. Volumes of boots whose daxrig
    /// died are swept first. What this boot made is its caller's to remove, by the
    /// boot's prefix (`release`), whether staging finished or not.
    /// `pmem`, when given, are volumes of the pool already (`GuestRunner.persistentPmem`):
    /// booted as they are, and left for their owner.
    /// `initrd` is the cached image (`image`) or, with the user's additions, this boot's
    /// own file: the image goes up once per content and stays, as the kernel does; a
    /// boot's own goes up for it and with it, like its pmem.
    init(connection: LibvirtConnection, domain: String, kernel: String, initrd: String, image: String, pmemSizes: [UInt64], pmem given: [String]?, cache: Cache,
         progress: ProgressSink) throws {
        let pool = try connection.daxrigPool()
        self.pool = pool
        self.domain = domain
        let swept = try pool.sweepRuns()
        if !swept.isEmpty { progress.phase("host", "removed \(swept.count) volume(s) of boots that ended without their daxrig") }
        let started = Date()
        let uploaded = try pool.upload(kernel, cache: cache)
        self.kernel = uploaded.path
        let staged = initrd == image ? try pool.upload(initrd, cache: cache) : try pool.put(initrd, as: LibvirtPool.runVolume(domain, "initrd"))
        self.initrd = staged.path
        uses = [uploaded.use, staged.use].compactMap { $0 }
        pmem = try given ?? pmemSizes.enumerated().map { index, size in
            try pool.createSparse(LibvirtPool.runVolume(domain, "pmem\(index)"), bytes: size).path
        }
        let seconds = String(format: "%.2f", Date().timeIntervalSince(started))
        progress.phase("host", "\(connection.uri): kernel \(uploaded.uploaded ? "uploaded" : "already there"), "
            + "initrd \(staged.uploaded ? "uploaded (\(staged.bytes >> 20) MiB)" : "already there"), \(pmem.count) pmem volume(s)\(given == nil ? "" : " made for more than this boot") (\(seconds) s)")
    }

    /// What a boot on another host cannot do yet, refused before anything starts: a
    /// directory of this machine (`--share`) or a port on the host's loopback (gdb's
    /// stub). `--shell`'s keystrokes travel up the channel's stream, as they do here,
    /// and `--dump-on-crash`'s vmcore comes down from the pool (`dumpMemory`).
    static func check(_ request: BootRequest) throws {
        guard let host = request.host else { return }
        let refused = [("--share", !request.shares.isEmpty), ("--gdb", request.gdb != nil)]
        if let (what, _) = refused.first(where: { $0.1 }) {
            throw BootLimitError(input: "--host", value: host, allowed: "\(what) is not supported on another libvirt host yet; boot on this machine for it")
        }
    }

    /// Where QEMU also logs the console on the host, in the pool (virtlogd writes it,
    /// rolling it over as it rolls a local one): a pty drops what its reader had not
    /// read when QEMU exits (a power-off's or a panic's last lines), this file does not.
    /// In the pool's directory as libvirt placed the kernel's volume, wherever the pool
    /// was defined (another daxrig's, or an administrator's, may not be at `targetPath`).
    var consoleLog: String { (kernel as NSString).deletingLastPathComponent + "/" + LibvirtPool.runVolume(domain, "console.log") }

    /// The host's console log, every rolled-over part, into `path` and its parts, once
    /// the domain is gone; what the stream brought stays where this fails.
    func fetchConsole(to path: String) throws {
        let stem = LibvirtPool.runVolume(domain, "console.log")
        for name in try pool.volumeNames() where name == stem || name.hasPrefix(stem + ".") {
            try pool.download(name, to: path + name.dropFirst(stem.count))
        }
    }

    /// The halted guest's memory, written by QEMU there into a volume of the pool made
    /// for it first (so its path is the pool's, wherever the pool lives, and libvirt
    /// knows it without a refresh), downloaded to `path`; the volume goes with the
    /// boot's others (`release`).
    func dumpMemory(of domain: LibvirtDomain, to path: String) throws {
        let volume = try pool.createSparse(LibvirtPool.runVolume(self.domain, "vmcore"), bytes: 0)
        try domain.dumpMemory(to: volume.path)
        try pool.download(volume.name, to: path)
    }

    /// Removes the volumes of boot `domain` (`run-<domain>-*`: its pmem, console, vmcore
    /// and an initrd with additions), staged or not (Ctrl-C may come mid-upload); the
    /// kernel and the image stay for the next boot. After the domain's destroy, since cleanups run newest first.
    static func release(domain: String, on connection: LibvirtConnection) {
        guard let pool = try? connection.daxrigPool() else { return }
        let prefix = LibvirtPool.runVolume(domain, "")
        for name in ((try? pool.volumeNames()) ?? []).filter({ $0.hasPrefix(prefix) }) { try? pool.delete(name) }
    }
}

/// Hosts this process lost a boot's connection to (its libvirtd died, the network
/// went): what a campaign asks after a cell, to run the cell again elsewhere and to
/// place nothing more there.
public enum HostLoss {
    private static let lost = Mutex<Set<String>>([])

    static func mark(_ uri: String) { lost.withLock { _ = $0.insert(uri) } }

    public static func isLost(_ uri: String) -> Bool { lost.withLock { $0.contains(uri) } }
}
