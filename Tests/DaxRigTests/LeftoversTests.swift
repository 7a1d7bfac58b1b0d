import Foundation
import Synchronization
import Testing
@testable import DaxRig
@testable import DaxRigSupport
@testable import DaxRigResults

/// Issue 14, item 7: a SIGKILLed or crashed daxrig left its run directory (with the
/// pmem backing file: GiBs), a kernel's .staging-* or an image's .tmp-* for ever.
@Suite struct LeftoversTests {
    @Test func whatADeadProcessLeftGoesAndNothingElse() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = Cache(root: root)
        let dead: pid_t = 999_001, living: pid_t = 999_002
        func make(_ url: URL, marked: Bool) throws -> String {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            try Files.write("x", to: url.appendingPathComponent("pmem0.img").path)
            if marked { try Files.write("", to: url.appendingPathComponent(Leftovers.inProgressMark).path) }
            return url.path
        }
        let killedRun = try make(cache.runs.appendingPathComponent("run-\(dead)-AAAA0000"), marked: true)
        let keptRun = try make(cache.runs.appendingPathComponent("run-\(dead)-BBBB0000"), marked: false)
        let runningRun = try make(cache.runs.appendingPathComponent("run-\(living)-CCCC0000"), marked: true)
        let kernelStaging = try make(cache.kernels.appendingPathComponent(".staging-\(dead)-DDDD0000"), marked: false)
        let imageStaging = try make(cache.images.appendingPathComponent(".tmp-\(dead)-EEEE0000"), marked: false)
        let kernel = try make(cache.kernels.appendingPathComponent("ea1018f6075ffb416e09"), marked: false)
        let odd = try make(cache.runs.appendingPathComponent("run-notapid-x"), marked: true)
        let removed = Leftovers.sweep(cache) { $0 == living }
        #expect(Set(removed) == [killedRun, kernelStaging, imageStaging])
        for path in [killedRun, kernelStaging, imageStaging] { #expect(!Files.exists(path)) }
        for path in [keptRun, runningRun, kernel, odd] { #expect(Files.exists(path)) }
        #expect(Leftovers.sweep(cache) { $0 == living }.isEmpty)
    }

    @Test func aRunDirectoryIsInProgressUntilKeptAndOursIsNeverSwept() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = Cache(root: root)
        let directory = try Leftovers.runDirectory(in: cache)
        #expect(directory.lastPathComponent.hasPrefix("run-\(getpid())-"))
        #expect(Files.exists(directory.appendingPathComponent(Leftovers.inProgressMark).path))
        #expect(Leftovers.sweep(cache) { _ in false }.isEmpty)
        Leftovers.keep(directory)
        #expect(!Files.exists(directory.appendingPathComponent(Leftovers.inProgressMark).path))
        // A real process that has ended: its pid is free, so its directory goes.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        let gone = cache.runs.appendingPathComponent("run-\(child.processIdentifier)-FFFF0000")
        try FileManager.default.createDirectory(at: gone, withIntermediateDirectories: true)
        try Files.write("", to: gone.appendingPathComponent(Leftovers.inProgressMark).path)
        #expect(!Leftovers.alive(child.processIdentifier))
        #expect(Leftovers.sweep(cache) == [gone.path])
    }
}

/// Issue 14, item 8: root boots what the cache holds, so a cache (or store) another
/// user owns is refused, naming it.
@Suite struct OwnershipTests {
    @Test func aCacheOrStoreOfAnotherUserIsRefusedNamingIt() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = Cache(root: root)
        try FileManager.default.createDirectory(at: cache.kernels, withIntermediateDirectories: true)
        try cache.checkOwnership()
        let other: uid_t = geteuid() == 65_534 ? 65_533 : 65_534
        #expect(throws: OwnershipError(path: root.path, owner: geteuid(), user: other)) { try cache.checkOwnership(user: other) }
        let store = root.appendingPathComponent("results.sqlite").path
        _ = try ResultStore(path: store)
        // A symbolic link is judged as itself: root's own link to a file of another user is still root's.
        let link = root.appendingPathComponent("link").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/etc/passwd")
        try Ownership.check(link)
        guard geteuid() == 0 else { return }
        #expect(chown(store, 65_534, 65_534) == 0)
        #expect { try ResultStore(path: store) } throws: { "\($0)".contains("\(store) belongs to uid 65534") }
        #expect(chown(cache.kernels.path, 65_534, 65_534) == 0)
        #expect { try cache.checkOwnership() } throws: { "\($0)".contains("\(cache.kernels.path) belongs to uid 65534") }
    }
}

/// The tree lock a test holds across two builds of its own (KernelBuildIntegrationTests)
/// is taken again inside each build on the same thread: reentrant there, exclusive
/// for every other thread.
@Suite struct FileLockTests {
    @Test func aLockIsReentrantOnItsThreadAndExclusiveForOthers() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = Cache(root: root)
        let outer = try cache.lock("tree-x")
        let inner = try cache.lock("tree-x")  // a deadlock if it were not reentrant
        inner.release()
        let taken = Mutex(false)
        let other = Thread {
            guard let lock = try? cache.lock("tree-x") else { return }
            taken.withLock { $0 = true }
            lock.release()
        }
        other.start()
        usleep(300_000)
        #expect(!taken.withLock { $0 }, "another thread took a held lock")
        outer.release()
        for _ in 0..<100 where !taken.withLock({ $0 }) { usleep(20_000) }
        #expect(taken.withLock { $0 })
        // Released, the mark is gone: the next lock on this thread is real again.
        let again = try cache.lock("tree-x")
        #expect(FileLock.attempt(path: again.path) == nil)
        again.release()
        #expect(FileLock.attempt(path: again.path) != nil)
    }
}
