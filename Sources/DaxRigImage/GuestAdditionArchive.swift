import Foundation
import DaxRigSupport

extension GuestAddition {
    /// The members of `additions`, walked on the host (a directory with everything under
    /// it; symlinks kept as symlinks, never followed), plus the shared libraries their
    /// ELF files load that `image` does not hold already: a dynamically linked test
    /// binary runs in the guest as it does here.
    public static func members(_ additions: [GuestAddition], image: ImageManifest, option: String = "--add",
                               libraries: (String) throws -> [SharedLibrary] = LibraryClosure.resolve) throws -> [CpioEntry] {
        let imageEntries = Dictionary(image.entries.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        var archive = CpioArchive()
        var needed: [String: SharedLibrary] = [:]
        for addition in additions {
            for (entry, host) in try walk(addition, option: option) {
                if let existing = imageEntries[entry.path], existing.kind != "dir" || !entry.isDirectory {
                    throw GuestAdditionError.collides(option: option, guest: entry.path, image: "a \(existing.kind)")
                }
                // A parent the image has as a file or symlink would become a directory,
                // and the kernel's unpacking removes what was there (/bin/sh for /bin/sh/x).
                var parent = (entry.path as NSString).deletingLastPathComponent
                while parent.count > 1 {
                    if let existing = imageEntries[parent], existing.kind != "dir" {
                        throw GuestAdditionError.collides(option: option, guest: parent, image: "a \(existing.kind)")
                    }
                    parent = (parent as NSString).deletingLastPathComponent
                }
                do { try archive.add(entry) } catch {
                    throw GuestAdditionError.badArgument(option: option, argument: addition.host, reason: "\(error)")
                }
                if case let .file(data) = entry.kind, entry.permissions & 0o111 != 0, data.starts(with: [0x7F, 0x45, 0x4C, 0x46]) {
                    for library in try libraries(host) where imageEntries[library.path] == nil { needed[library.path] = library }
                }
            }
        }
        for library in needed.values.sorted(by: { $0.path < $1.path }) {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: library.path).resolvingSymlinksInPath()) } catch {
                throw GuestAdditionError.unreadable(option: option, host: library.path, reason: "\(error)")
            }
            try? archive.add(.file(library.path, data, permissions: 0o755))
        }
        return try archive.members()
    }

    /// The archive a run appends after the image and its plan (the kernel unpacks
    /// concatenated archives in order into one rootfs).
    public static func archive(_ additions: [GuestAddition], image: ImageManifest, option: String = "--add") throws -> Data {
        additions.isEmpty ? Data() : try CpioArchive(members(additions, image: image, option: option)).bytes()
    }

    /// The addition's members with the host path each came from.
    static func walk(_ addition: GuestAddition, option: String) throws -> [(CpioEntry, String)] {
        var result: [(CpioEntry, String)] = []
        func visit(_ host: String, _ guest: String) throws {
            var info = stat()
            guard lstat(host, &info) == 0 else {
                throw GuestAdditionError.unreadable(option: option, host: host, reason: String(cString: strerror(errno)))
            }
            let permissions = UInt32(info.st_mode) & 0o7777
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                let data: Data
                do { data = try Data(contentsOf: URL(fileURLWithPath: host)) } catch {
                    throw GuestAdditionError.unreadable(option: option, host: host, reason: "\(error)")
                }
                result.append((.file(guest, data, permissions: permissions), host))
            case S_IFLNK:
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: host)) ?? ""
                result.append((.symlink(guest, to: target), host))
            case S_IFDIR:
                result.append((.directory(guest, permissions: permissions), host))
                let names: [String]
                do { names = try FileManager.default.contentsOfDirectory(atPath: host) } catch {
                    throw GuestAdditionError.unreadable(option: option, host: host, reason: "\(error)")
                }
                for name in names.sorted() { try visit(host + "/" + name, guest + "/" + name) }
            case S_IFIFO: throw GuestAdditionError.unsupported(option: option, host: host, kind: "a FIFO")
            case S_IFSOCK: throw GuestAdditionError.unsupported(option: option, host: host, kind: "a socket")
            default: throw GuestAdditionError.unsupported(option: option, host: host, kind: "a device node")
            }
        }
        // HOST itself is what the user named: a symlink there is followed (a link to
        // python3.12 would arrive dangling); links inside a directory stay links.
        try visit(URL(fileURLWithPath: addition.host).resolvingSymlinksInPath().path, addition.guest)
        return result
    }
}
