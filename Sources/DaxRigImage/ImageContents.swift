import Foundation
import DaxRigSupport

/// How a recipe's host-side names become files: where a tool is installed, which
/// libraries it loads, which applets a busybox has. Tests swap these out to play a
/// host without some tool.
public struct HostLookup: Sendable {
    public var locate: @Sendable (String) -> String?
    public var libraries: @Sendable (String) throws -> [SharedLibrary]
    public var applets: @Sendable (String) throws -> [String]

    public init(locate: @escaping @Sendable (String) -> String?,
                libraries: @escaping @Sendable (String) throws -> [SharedLibrary],
                applets: @escaping @Sendable (String) throws -> [String]) {
        self.locate = locate
        self.libraries = libraries
        self.applets = applets
    }

    /// This host: PATH plus the sbin directories, ldd, and `busybox --list`.
    public static let system = HostLookup(
        locate: { name in
            if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
            return Command.which(name)
        },
        libraries: { try LibraryClosure.resolve($0) },
        applets: { busybox in
            try Command(busybox, ["--list"]).run().standardOutput.split(separator: "\n").map(String.init)
        })
}

/// One member of the image and where it came from, for the manifest.
public struct ImageItem: Sendable, Equatable {
    public var entry: CpioEntry
    /// The host file it was copied from ("/usr/sbin/mke2fs"), or nil for links and nodes.
    public var source: String?
}

/// A recipe resolved against this host: every member with its bytes read. Its
/// content hash is the image's cache key.
public struct ImageContents: Sendable {
    public var items: [ImageItem]
    public var recipe: ImageRecipe

    /// Resolves every directive; `agent` is the stripped agent binary.
    public static func resolve(_ recipe: ImageRecipe, agent: Data, agentSource: String,
                               host: HostLookup = .system) throws -> ImageContents {
        var archive = CpioArchive()
        var items: [ImageItem] = []
        var seen: Set<String> = []
        func add(_ entry: CpioEntry, source: String?, line: Int) throws {
            do {
                try archive.add(entry)
            } catch let error as CpioError {
                throw ImageError.conflict(message: error.description, recipe: recipe.source, line: line)
            }
            // A library that two tools share is added once.
            if seen.insert(try CpioArchive.normalize(entry.path)).inserted {
                items.append(ImageItem(entry: entry, source: source))
            }
        }

        // Tools first, so that `applets` may come before or after the busybox it links to.
        var tools: [String: String] = [:]
        for line in recipe.lines {
            guard case let .tool(program, target) = line.directive else { continue }
            guard let path = host.locate(program) else {
                throw ImageError.missingTool(tool: program, package: HostPackages.package(for: program),
                                             recipe: recipe.source, line: line.number)
            }
            tools[target] = path
            let (data, permissions) = try readHostFile(path)
            try add(.file(target, data, permissions: permissions), source: path, line: line.number)
            for library in try host.libraries(path) {
                let (bytes, mode) = try readHostFile(library.path)
                try add(.file(library.path, bytes, permissions: mode), source: library.path, line: line.number)
            }
        }

        for line in recipe.lines {
            switch line.directive {
            case let .agent(target):
                try add(.file(target, agent, permissions: 0o755), source: agentSource, line: line.number)
            case .tool:
                continue
            case let .applets(busybox, names):
                guard let hostBusybox = tools[busybox] else {
                    throw ImageError.appletsWithoutBusybox(target: busybox, recipe: recipe.source, line: line.number)
                }
                let known = Set(try host.applets(hostBusybox))
                let unknown = names.filter { !known.contains($0) }
                guard unknown.isEmpty else {
                    throw ImageError.unknownApplets(names: unknown, busybox: hostBusybox, recipe: recipe.source, line: line.number)
                }
                let directory = (busybox as NSString).deletingLastPathComponent
                let name = (busybox as NSString).lastPathComponent
                for applet in names {
                    try add(.symlink((directory as NSString).appendingPathComponent(applet), to: name), source: nil, line: line.number)
                }
            case let .directory(target, permissions):
                try add(.directory(target, permissions: permissions), source: nil, line: line.number)
            case let .file(source, target, permissions):
                guard Files.exists(source) else {
                    throw ImageError.missingFile(path: source, recipe: recipe.source, line: line.number)
                }
                let (data, mode) = try readHostFile(source)
                try add(.file(target, data, permissions: permissions ?? mode), source: source, line: line.number)
            case let .symlink(target, pointsTo):
                try add(.symlink(target, to: pointsTo), source: nil, line: line.number)
            case let .characterDevice(target, major, minor, permissions):
                try add(.characterDevice(target, major: major, minor: minor, permissions: permissions), source: nil, line: line.number)
            }
        }
        return ImageContents(items: items, recipe: recipe)
    }

    public func archive() throws -> CpioArchive {
        try CpioArchive(items.map(\.entry))
    }

    /// The cache key: everything that decides the image's bytes (each member's path,
    /// kind, mode and bytes, in archive order, and the recipe text), plus a format
    /// version to bump when the packing itself changes.
    public func key() throws -> String {
        let hash = ContentHash()
        hash.update("daxrig-image-v1\n")
        hash.update("recipe \(recipe.text.utf8.count)\n")
        hash.update(recipe.text)
        for member in try archive().members() {
            hash.update("\n\(member.path) \(String(member.mode, radix: 8)) ")
            switch member.kind {
            case .directory: hash.update("dir")
            case let .file(data):
                hash.update("file \(data.count)\n")
                hash.update(data)
            case let .symlink(target): hash.update("symlink \(target)")
            case let .characterDevice(major, minor): hash.update("chardev \(major):\(minor)")
            }
        }
        return String(hash.finalize().prefix(20))
    }

    /// A host file's bytes and permission bits, through any symlinks (mkfs.ext4 ->
    /// mke2fs, /lib64/ld-linux-x86-64.so.2 -> the real loader).
    static func readHostFile(_ path: String) throws -> (Data, UInt32) {
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: real))
            let attributes = try FileManager.default.attributesOfItem(atPath: real)
            let permissions = (attributes[.posixPermissions] as? NSNumber)?.uint32Value ?? 0o644
            return (data, permissions)
        } catch {
            throw FileError.unreadable(path: path, reason: error.localizedDescription)
        }
    }
}
