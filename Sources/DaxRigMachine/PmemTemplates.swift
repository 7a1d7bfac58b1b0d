import DaxRigImage
import DaxRigProtocol
import DaxRigSupport
import Foundation

/// Formatted pmem backing files, so a boot skips `ndctl create-namespace` and mkfs
/// (about a second of every boot under TCG): cache/pmem-templates/<key>.img.
///
/// A template is what a boot of the same kernel and image formatted on an nvdimm of
/// the same shape, copied the moment the agent had synced it and before anything
/// mounted it (AgentMessage.pmemFormatted). So each boot from it mounts a file system
/// as fresh as mkfs left it, and the namespace's info block is the one this kernel
/// wrote: the key holds the kernel's bytes, the image's key (ndctl, mkfs and their
/// options), the file system and the nvdimm's size, alignment and label area. The
/// agent checks what it is given (fsdax mode, the file system's magic) and formats
/// again when either is missing, offering the result as the new template; a boot that
/// fails at the pmem stage on a template takes the template with it.
public struct PmemTemplates: Sendable {
    public let cache: Cache

    public init(cache: Cache) { self.cache = cache }

    public var directory: URL { cache.pmemTemplates }

    /// Bumped when what a template holds changes meaning.
    static let format = "1"

    /// The template key for the first nvdimm of a boot; nil when the boot cannot take
    /// one: it asked for a fresh pmem (`--fresh-pmem`), no file system (a raw
    /// namespace), backing files of its own (a persistence check's second boot), or a
    /// terminal (its keystrokes share the channel the agent waits on).
    public static func key(for request: BootRequest, image: GuestImage, nvdimm: NvdimmSpec) -> String? {
        guard request.pmemTemplate, request.plan.pmem.fileSystem != .none, !request.plan.pmem.reuse, request.pmemBackingFiles == nil,
              request.terminalInput == nil, request.plan.terminal == nil,
              let kernel = try? ContentHash.ofFile(request.kernel) else { return nil }
        return ContentHash.of([format, kernel, image.key, request.plan.pmem.fileSystem.rawValue, "\(nvdimm.sizeBytes)",
                               "\(nvdimm.alignBytes)", "\(nvdimm.labelBytes ?? 0)"].joined(separator: "\n"))
    }

    public func path(_ key: String) -> String { directory.appendingPathComponent(key + ".img").path }

    /// Copies the template into `backing` when there is one; false when there is none
    /// (or it could not be copied: the boot formats as if there were none).
    public func place(_ key: String, at backing: String) -> Bool {
        let template = path(key)
        guard Files.exists(template), (try? Files.copySparse(from: template, to: backing)) != nil else { return false }
        // Used now: `daxrig gc` takes the least recently used first.
        _ = utimes(template, nil)
        return true
    }

    /// Keeps a copy of `backing` as the template `key`: copied aside, then renamed into
    /// place, so a reader never sees half a template and two boots making the same one
    /// leave either's whole copy.
    public func keep(_ key: String, from backing: String) throws {
        let staging = try Files.temporaryDirectory(in: directory, prefix: ".staging-")
        defer { Files.removeDirectory(staging.path) }
        let copy = staging.appendingPathComponent("template.img").path
        try Files.copySparse(from: backing, to: copy)
        guard rename(copy, path(key)) == 0 else { throw FileError.unwritable(path: path(key), reason: String(cString: strerror(errno))) }
    }

    public func discard(_ key: String) { Files.remove(path(key)) }
}
