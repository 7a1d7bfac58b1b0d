import DaxRig
import Foundation
import Testing
import DaxRigSupport

/// `daxrig gc` through the CLI, on a cache of its own ($DAXRIG_CACHE).
@Suite(.timed) struct GcIntegrationTests {
    @Test func gcRemovesTheOldestUntilTheCacheFitsAndRefusesABadBudget() throws {
        let root = try Rig.scratch("gc")
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = Cache(root: root)
        for (name, daysAgo) in [("aaaa", 3.0), ("bbbb", 1.0)] {
            let url = cache.kernels.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            try Data(repeating: 1, count: 1 << 20).write(to: url.appendingPathComponent("bzImage"))
            try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-daysAgo * 86_400)], ofItemAtPath: url.path)
        }
        let environment = ["DAXRIG_CACHE": root.path]
        let dry = try Rig.run(["gc", "--keep", "2M", "--dry-run"], environment: environment)
        #expect(dry.status == 0 && dry.standardOutput.contains("would remove kernel \(cache.kernels.path)/aaaa"), "\(dry.standardOutput)")
        #expect(Files.exists(cache.kernels.appendingPathComponent("aaaa").path))
        let real = try Rig.run(["gc", "--keep", "2M", "--json"], environment: environment)
        #expect(real.status == 0, "\(real.standardError)")
        #expect(real.standardOutput.contains("\"kind\" : \"kernel\"") && real.standardOutput.contains("aaaa"), "\(real.standardOutput)")
        #expect(!Files.exists(cache.kernels.appendingPathComponent("aaaa").path))
        #expect(Files.exists(cache.kernels.appendingPathComponent("bbbb").path))
        let bad = try Rig.run(["gc", "--keep", "lots"], environment: environment)
        #expect(bad.status == 2 && bad.standardError.contains("'lots' is not a size"), "\(bad.standardError)")
    }
}
