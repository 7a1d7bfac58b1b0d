import CCrypto
import Foundation

/// SHA-256 through the host's libcrypto: cache keys, tarball and tree identities.
/// A kernel tarball is 130 MB and a tree 75,000 files, so the digest must run at
/// OpenSSL's speed even in a debug build of daxrig.
public final class ContentHash {
    private let context: OpaquePointer
    private var finished = false

    public init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        if let base = bytes.baseAddress { EVP_DigestUpdate(context, base, bytes.count) }
    }

    public func update(_ data: Data) {
        data.withUnsafeBytes { update($0) }
    }

    public func update(_ string: String) {
        update(Data(string.utf8))
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Hex digest; the hasher is spent afterwards.
    public func finalize() -> String {
        precondition(!finished, "ContentHash finalized twice")
        finished = true
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        return digest.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
    }

    public static func of(_ string: String) -> String {
        let hash = ContentHash()
        hash.update(string)
        return hash.finalize()
    }

    public static func of(_ data: Data) -> String {
        let hash = ContentHash()
        hash.update(data)
        return hash.finalize()
    }

    /// Streams a file through the digest in 1 MiB reads.
    public static func ofFile(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        defer { try? handle.close() }
        let hash = ContentHash()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hash.update(chunk)
        }
        return hash.finalize()
    }
}
