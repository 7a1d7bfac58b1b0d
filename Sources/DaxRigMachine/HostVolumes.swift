import CLibvirt
import DaxRigSupport
import Foundation

/// daxrig's storage pool on a libvirt host: a directory pool named "daxrig", where a
/// boot on a host that shares no file system with daxrig finds its kernel and initrd
/// (issue 19). Files go up as volumes named by their content, so a kernel a host holds
/// already uploads nothing; the upload is libvirt's own (virStorageVolUpload over the
/// connection's stream), over whatever transport the connection has (ssh, TLS).
public final class LibvirtPool: @unchecked Sendable {
    public static let name = "daxrig"
    /// Where daxrig defines the pool on a host that has none. A pool defined before
    /// may be elsewhere: paths there come from libvirt's volumes, never from this.
    public static let targetPath = "/var/lib/libvirt/daxrig"
    /// Beside each uploaded volume: it exists only once the upload finished, so a
    /// volume without it (daxrig killed mid-upload) is never booted from.
    static let doneSuffix = ".done"

    let pointer: virStoragePoolPtr
    let connection: LibvirtConnection

    init(pointer: virStoragePoolPtr, connection: LibvirtConnection) {
        self.pointer = pointer
        self.connection = connection
    }

    deinit { virStoragePoolFree(pointer) }

    /// A volume of the pool, as an upload left it.
    public struct Volume: Sendable {
        public var name: String
        /// Its path on the host.
        public var path: String
        public var bytes: Int
        /// False when the host held it already.
        public var uploaded: Bool
        /// Held (shared) from the moment `upload` found or made it for as long as its
        /// caller keeps this value: `gc --host` on this machine leaves the volume alone
        /// meanwhile, before a boot's domain names it as well as after.
        public var use: FileLock? = nil
    }

    /// The volume holding `file`'s bytes, uploaded unless the host has it already.
    /// Each upload writes a volume of its own (the content's name and a nonce), so two
    /// daxrigs uploading the same kernel at once never write into, or delete, each
    /// other's; any one with its marker serves. One without its marker and untouched
    /// for `staleAfter` seconds is an upload that died, and is removed.
    /// Daxrigs of this machine (a matrix's first cells, all starting at once) take
    /// turns per host and content under a lock in `cache`, so only the first uploads and
    /// the rest find its volume; daxrigs of other machines may still each upload one.
    public func upload(_ file: String, cache: Cache, staleAfter: Double = 600) throws -> Volume {
        let hash = try ContentHash.ofFile(file)
        let lock = try cache.lock(Self.uploadLock(uri: connection.uri, content: hash))
        defer { lock.release() }
        // Taken while the upload lock is held, so gc (which takes both) cannot come between.
        let use = try cache.lock(Self.useLock(uri: connection.uri, content: hash), shared: true)
        // Only characters that need no escaping in the volume's XML, nor on its host's disk.
        let base = String((file as NSString).lastPathComponent.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" })
        let stem = String(hash.prefix(24)) + "-" + base + "-"
        let bytes = Int(Files.size(file))
        let names = Set(try allNames()).filter { $0.hasPrefix(stem) }
        let uploads = names.filter { !$0.hasSuffix(Self.doneSuffix) }
        for name in uploads where !names.contains(name + Self.doneSuffix) {
            if let age = age(of: name), age > staleAfter { try delete(name) }
        }
        if let done = uploads.sorted().first(where: { names.contains($0 + Self.doneSuffix) }), let path = path(of: done) {
            return Volume(name: done, path: path, bytes: bytes, uploaded: false, use: use)
        }
        var uploaded = try put(file, as: stem + String(UInt32.random(in: .min ... .max), radix: 16))
        do {
            virStorageVolFree(try create(uploaded.name + Self.doneSuffix, bytes: 0))
        } catch {
            try? delete(uploaded.name)
            throw error
        }
        uploaded.use = use
        return uploaded
    }

    /// The lock of one content's upload to one host (`upload`; `gc --host` takes it too).
    static func uploadLock(uri: String, content: String) -> String {
        "upload-" + ContentHash.of(uri).prefix(12) + "-" + content.prefix(24)
    }

    /// The lock boots of this machine hold, shared, while they use one content's volume
    /// on one host (`Volume.use`); `gc --host` takes it exclusively or leaves the volume.
    static func useLock(uri: String, content: String) -> String {
        "use-" + ContentHash.of(uri).prefix(12) + "-" + content.prefix(24)
    }

    /// What `upload` names a content's volume: its hash's first 24 hex digits, the
    /// file's name, a nonce. Nothing else in the pool is an upload of daxrig's.
    static func isUploadName(_ name: String) -> Bool {
        name.wholeMatch(of: /[0-9a-f]{24}-[A-Za-z0-9._-]+-[0-9a-f]{1,8}/) != nil
    }

    /// Volumes of one boot are named `run-<domain>-<what>`: removed when the boot ends,
    /// and by `sweepRuns` when the daxrig that made them died first.
    public static func runVolume(_ domain: String, _ what: String) -> String { "run-\(domain)-\(what)" }

    /// A fresh sparse volume of `bytes`: a boot's pmem backing on the host.
    public func createSparse(_ name: String, bytes: UInt64) throws -> Volume {
        let volume = try create(name, bytes: Int(bytes))
        defer { virStorageVolFree(volume) }
        return try Volume(name: name, path: path(of: volume, name: name), bytes: Int(bytes), uploaded: true)
    }

    /// `file` uploaded as volume `name` whatever its content (a boot's own initrd, or
    /// `upload`'s content-named volume before its marker); removed if the upload fails.
    public func put(_ file: String, as name: String) throws -> Volume {
        let bytes = Int(Files.size(file))
        let volume = try create(name, bytes: bytes)
        defer { virStorageVolFree(volume) }
        do {
            try send(file, bytes: bytes, to: volume, name: name)
        } catch {
            try? delete(name)
            throw error
        }
        return try Volume(name: name, path: path(of: volume, name: name), bytes: bytes, uploaded: true)
    }

    /// Volume `name`'s bytes into the local file `path` (virStorageVolDownload).
    public func download(_ name: String, to path: String) throws {
        guard let volume = virStorageVolLookupByName(pointer, name) else { throw LibvirtError.last("find volume \(name) on \(connection.uri)") }
        defer { virStorageVolFree(volume) }
        guard let stream = virStreamNew(connection.pointer, 0) else { throw LibvirtError.last("open a stream to \(connection.uri)") }
        defer { virStreamFree(stream) }
        guard virStorageVolDownload(volume, stream, 0, 0, 0) == 0 else { throw LibvirtError.last("download volume \(name) from \(connection.uri)") }
        // Beside `path` until whole: a download cut short leaves `path` as it was.
        let partial = path + ".part"
        let fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            virStreamAbort(stream)
            throw FileError.unwritable(path: partial, reason: String(cString: strerror(errno)))
        }
        var whole = false
        defer {
            close(fd)
            if whole { rename(partial, path) } else { unlink(partial) }
        }
        var buffer = [CChar](repeating: 0, count: 1 << 18)
        while true {
            let got = virStreamRecv(stream, &buffer, buffer.count)
            if got == 0 { break }
            guard got > 0 else { throw LibvirtError.last("download volume \(name) from \(connection.uri)") }
            guard buffer.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress!, Int(got)) }) == got else {
                virStreamAbort(stream)
                throw FileError.unwritable(path: path, reason: String(cString: strerror(errno)))
            }
        }
        guard virStreamFinish(stream) == 0 else { throw LibvirtError.last("finish downloading volume \(name) from \(connection.uri)") }
        whole = true
    }

    /// Removes the run volumes of boots that are over: their domain is not running on
    /// the host and they have not changed for `staleAfter` seconds (a boot being
    /// staged has volumes and no domain yet). Returns the names removed.
    public func sweepRuns(staleAfter: Double = 600) throws -> [String] {
        let running = Set(try connection.activeDomainNames())
        return try volumeNames().filter { name in
            // A persistence check's pmem has no domain between its two boots: a day.
            let stale = name.contains("-persist") ? max(staleAfter, 86_400) : staleAfter
            guard name.hasPrefix("run-"), !running.contains(where: { name.hasPrefix("run-\($0)-") }),
                  let age = age(of: name), age > stale else { return false }
            // Best effort: another boot's sweep may have taken it first.
            return (try? delete(name)) != nil
        }
    }

    /// A volume as `gc --host` weighs it.
    public struct Held: Sendable, Equatable {
        public var name: String
        public var path: String
        /// Bytes it takes on the host's disk (a sparse pmem volume counts what it holds).
        public var bytes: UInt64
        public var modified: Date
        /// Its upload finished (its marker is there); run volumes have none.
        public var finished: Bool
        /// The locks daxrig on this machine takes for an upload's content (`upload`,
        /// `Volume.use`); none for run volumes.
        public var locks: [String] {
            isRun ? [] : [LibvirtPool.uploadLock(uri: uri, content: name), LibvirtPool.useLock(uri: uri, content: name)]
        }
        public var isRun: Bool { name.hasPrefix("run-") }
        let uri: String
    }

    /// Every volume of the pool daxrig made (uploads and run volumes, markers folded
    /// into what they mark): a pool defined before daxrig's may hold an administrator's
    /// files and directories too, which are none of daxrig's business.
    public func held() throws -> [Held] {
        let names = try allNames()
        let all = Set(names)
        return names.filter { !$0.hasSuffix(Self.doneSuffix) && ($0.hasPrefix("run-") || Self.isUploadName($0)) }.sorted().compactMap { name in
            guard let volume = virStorageVolLookupByName(pointer, name) else { return nil }
            defer { virStorageVolFree(volume) }
            var info = virStorageVolInfo()
            guard virStorageVolGetInfo(volume, &info) == 0, info.type == Int32(VIR_STORAGE_VOL_FILE.rawValue),
                  let path = try? path(of: volume, name: name) else { return nil }
            let modified = age(of: name).map { Date().addingTimeInterval(-$0) } ?? .distantPast
            return Held(name: name, path: path, bytes: info.allocation, modified: modified, finished: all.contains(name + Self.doneSuffix), uri: connection.uri)
        }
    }

    private func path(of volume: virStorageVolPtr, name: String) throws -> String {
        guard let path = virStorageVolGetPath(volume) else { throw LibvirtError.last("read the path of volume \(name)") }
        defer { free(path) }
        return String(cString: path)
    }

    /// Removes volume `name` and its marker; one that is not there is no error.
    public func delete(_ name: String) throws {
        for each in [name + Self.doneSuffix, name] {
            guard let volume = virStorageVolLookupByName(pointer, each) else { continue }
            defer { virStorageVolFree(volume) }
            guard virStorageVolDelete(volume, 0) == 0 else { throw LibvirtError.last("delete volume \(each) on \(connection.uri)") }
        }
    }

    /// The names of the pool's volumes, markers left out.
    public func volumeNames() throws -> [String] {
        try allNames().filter { !$0.hasSuffix(Self.doneSuffix) }.sorted()
    }

    /// The size of volume `name` as its file is now (nil: no such volume), for a
    /// console log another host writes while its domain runs.
    public func bytes(of name: String) throws -> UInt64? {
        try refresh()
        guard let volume = virStorageVolLookupByName(pointer, name) else { return nil }
        defer { virStorageVolFree(volume) }
        var info = virStorageVolInfo()
        guard virStorageVolGetInfo(volume, &info) == 0 else { throw LibvirtError.last("size of volume \(name) on \(connection.uri)") }
        return UInt64(info.capacity)
    }

    /// Every volume's name, markers too, as the pool's directory holds them now:
    /// libvirt answers from its own list until refreshed, and refuses a refresh while
    /// another client's volume is being made, so that is tried again for a while.
    private func allNames() throws -> [String] {
        try refresh()
        var list: UnsafeMutablePointer<virStorageVolPtr?>?
        let count = virStoragePoolListAllVolumes(pointer, &list, 0)
        guard count >= 0, let list else { throw LibvirtError.last("list the volumes of pool \(Self.name) on \(connection.uri)") }
        defer { free(list) }
        return (0..<Int(count)).compactMap { index -> String? in
            guard let volume = list[index] else { return nil }
            defer { virStorageVolFree(volume) }
            return virStorageVolGetName(volume).map { String(cString: $0) }
        }
    }

    /// Makes libvirt read the pool's directory again, trying for a while when another
    /// client's volume is being made (libvirt refuses a refresh then).
    private func refresh() throws {
        var attempts = 0
        while virStoragePoolRefresh(pointer, 0) != 0 {
            attempts += 1
            guard attempts < 50 else { throw LibvirtError.last("refresh pool \(Self.name) on \(connection.uri)") }
            usleep(100_000)
        }
    }

    private func path(of name: String) -> String? {
        guard let volume = virStorageVolLookupByName(pointer, name) else { return nil }
        defer { virStorageVolFree(volume) }
        return try? path(of: volume, name: name)
    }

    /// Seconds since volume `name` last changed, from the mtime libvirt reports for it.
    private func age(of name: String) -> Double? {
        guard let volume = virStorageVolLookupByName(pointer, name) else { return nil }
        defer { virStorageVolFree(volume) }
        guard let xml = virStorageVolGetXMLDesc(volume, 0) else { return nil }
        defer { free(xml) }
        let text = String(cString: xml)
        guard let open = text.range(of: "<mtime>"), let close = text.range(of: "</mtime>", range: open.upperBound..<text.endIndex),
              let mtime = Double(text[open.upperBound..<close.lowerBound]) else { return nil }
        return Date().timeIntervalSince1970 - mtime
    }

    private func create(_ name: String, bytes: Int) throws -> virStorageVolPtr {
        let xml = "<volume><name>\(name)</name><capacity unit='bytes'>\(bytes)</capacity>"
            + "<allocation unit='bytes'>0</allocation><target><format type='raw'/></target></volume>"
        guard let volume = virStorageVolCreateXML(pointer, xml, 0) else {
            throw LibvirtError.last("create volume \(name) in pool \(Self.name) on \(connection.uri)")
        }
        return volume
    }

    private func send(_ file: String, bytes: Int, to volume: virStorageVolPtr, name: String) throws {
        guard let stream = virStreamNew(connection.pointer, 0) else { throw LibvirtError.last("open a stream to \(connection.uri)") }
        defer { virStreamFree(stream) }
        guard virStorageVolUpload(volume, stream, 0, UInt64(bytes), 0) == 0 else {
            throw LibvirtError.last("upload \(file) to volume \(name) on \(connection.uri)")
        }
        guard let handle = FileHandle(forReadingAtPath: file) else {
            virStreamAbort(stream)
            throw FileError.unreadable(path: file, reason: "cannot open it")
        }
        defer { try? handle.close() }
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            var offset = 0
            while offset < chunk.count {
                let sent = chunk.withUnsafeBytes { virStreamSend(stream, $0.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self), chunk.count - offset) }
                guard sent > 0 else {
                    let error = LibvirtError.last("upload \(file) to volume \(name) on \(connection.uri)")
                    virStreamAbort(stream)
                    throw error
                }
                offset += Int(sent)
            }
        }
        guard virStreamFinish(stream) == 0 else { throw LibvirtError.last("finish uploading \(file) to volume \(name) on \(connection.uri)") }
    }
}

extension LibvirtConnection {
    /// daxrig's pool on this host if it has one and it is started, changing nothing
    /// (`gc --host` on a host named by mistake defines nothing there).
    public func existingDaxrigPool() -> LibvirtPool? {
        guard let found = virStoragePoolLookupByName(pointer, LibvirtPool.name) else { return nil }
        guard virStoragePoolIsActive(found) == 1 else {
            virStoragePoolFree(found)
            return nil
        }
        return LibvirtPool(pointer: found, connection: self)
    }

    /// daxrig's pool on this host: defined, built (its directory made) and started if
    /// it is not, and marked to start with libvirtd.
    public func daxrigPool() throws -> LibvirtPool {
        let pool: virStoragePoolPtr
        if let found = virStoragePoolLookupByName(pointer, LibvirtPool.name) {
            pool = found
        } else {
            let xml = "<pool type='dir'><name>\(LibvirtPool.name)</name><target><path>\(LibvirtPool.targetPath)</path></target></pool>"
            // Another daxrig may define it first: then it is there to look up.
            guard let defined = virStoragePoolDefineXML(pointer, xml, 0) ?? virStoragePoolLookupByName(pointer, LibvirtPool.name) else {
                throw LibvirtError.last("define storage pool \(LibvirtPool.name) on \(uri)")
            }
            pool = defined
            _ = virStoragePoolSetAutostart(pool, 1)
        }
        let wrapped = LibvirtPool(pointer: pool, connection: self)
        // Built (its directory made) as it starts: a pool whose first build failed is
        // built again here, not left defined and unstartable.
        if virStoragePoolIsActive(pool) != 1,
           virStoragePoolCreate(pool, UInt32(VIR_STORAGE_POOL_CREATE_WITH_BUILD.rawValue)) != 0, virStoragePoolIsActive(pool) != 1 {
            throw LibvirtError.last("start storage pool \(LibvirtPool.name) (\(LibvirtPool.targetPath)) on \(uri)")
        }
        return wrapped
    }
}
