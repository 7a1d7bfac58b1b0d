import Foundation
import Testing
@testable import DaxRig
@testable import DaxRigImage
@testable import DaxRigMachine
@testable import DaxRigSupport
@testable import DaxRigResults
@testable import DaxRigRun

/// `daxrig gc` (issue 14, item 7): oldest first until the cache fits, nothing in use.
@Suite struct CacheCollectorTests {
    func item(_ kind: CacheCollector.Kind, _ name: String, _ bytes: UInt64, daysAgo: Double) -> CacheCollector.Item {
        CacheCollector.Item(kind: kind, path: "/c/" + name, bytes: bytes, modified: Date(timeIntervalSince1970: 1_000_000 - daysAgo * 86_400))
    }

    @Test func theOldestGoFirstAndOnlyUntilTheRestFits() {
        let items = [item(.kernel, "new", 10, daysAgo: 0), item(.tree, "old", 50, daysAgo: 9), item(.keptRun, "mid", 30, daysAgo: 3),
                     item(.image, "older", 5, daysAgo: 5)]
        #expect(CacheCollector.chooseOldestFirst(items, keep: 95).map(\.path) == [])
        #expect(CacheCollector.chooseOldestFirst(items, keep: 94).map(\.path) == ["/c/old"])
        #expect(CacheCollector.chooseOldestFirst(items, keep: 30).map(\.path) == ["/c/old", "/c/older", "/c/mid"])
        #expect(CacheCollector.chooseOldestFirst(items, keep: 0).count == 4)
        #expect(CacheCollector.chooseOldestFirst([], keep: 0).isEmpty)
    }

    @Test func aRealCacheLosesItsOldestButNothingInUse() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = Cache(root: root)
        func make(_ url: URL, bytes: Int, daysAgo: Double, marked: Bool = false) throws -> String {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            try Data(repeating: 7, count: bytes).write(to: url.appendingPathComponent("data"))
            if marked { try Files.write("", to: url.appendingPathComponent(Leftovers.inProgressMark).path) }
            let date = Date().addingTimeInterval(-daysAgo * 86_400)
            try FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: url.path)
            return url.path
        }
        let oldKernel = try make(cache.kernels.appendingPathComponent("aaaa"), bytes: 1 << 20, daysAgo: 10)
        let newKernel = try make(cache.kernels.appendingPathComponent("bbbb"), bytes: 1 << 20, daysAgo: 0)
        let heldTree = try make(cache.trees.appendingPathComponent("tar-held"), bytes: 4 << 20, daysAgo: 20)
        let freeTree = try make(cache.trees.appendingPathComponent("git-free"), bytes: 4 << 20, daysAgo: 15)
        let keptRun = try make(cache.runs.appendingPathComponent("run-999003-AAAA0000"), bytes: 64 << 10, daysAgo: 12)
        let ourRun = try make(cache.runs.appendingPathComponent("run-\(getpid())-BBBB0000"), bytes: 8 << 20, daysAgo: 30, marked: true)
        let oldSelftests = try make(cache.root.appendingPathComponent("selftests/0123456789abcdef0123"), bytes: 1 << 20, daysAgo: 11)
        let held = try #require(FileLock.attempt(path: try cache.directory(cache.locks).appendingPathComponent("tree-tar-held.lock").path))
        defer { held.release() }

        let dry = try CacheCollector(cache: cache).collect(keep: 2 << 20, dryRun: true)
        #expect(dry.removed.map(\.path) == [freeTree, keptRun, oldSelftests, oldKernel])
        for path in [oldKernel, freeTree, keptRun, oldSelftests] { #expect(Files.exists(path)) }

        let result = try CacheCollector(cache: cache).collect(keep: 2 << 20)
        #expect(result.removed.map(\.path) == [freeTree, keptRun, oldSelftests, oldKernel])
        #expect(result.skipped.map(\.path) == [heldTree])
        #expect(result.before >= 10 << 20)
        for path in [oldKernel, freeTree, keptRun, oldSelftests] { #expect(!Files.exists(path)) }
        for path in [newKernel, heldTree, ourRun] { #expect(Files.exists(path)) }
    }
}
