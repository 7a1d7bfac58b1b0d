import Foundation
import Testing

/// A test's own wall time, from when its body really starts to when it ends, written
/// to the file $DAXRIG_TEST_PROFILE names (one line per test: start, end, seconds,
/// name). Swift Testing's "passed after" counts from when a test was scheduled, and on
/// two cores the integration tests hold the pool for minutes, so those figures say
/// little about where a run's time goes (issue 14, item 11); .ci/run prints this one.
struct Timed: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func scopeProvider(for test: Test, testCase: Test.Case?) -> Timed? {
        // Once per test case (a plain test has one): the function's own scope wraps
        // its cases' and would count the same time twice.
        test.isSuite || testCase == nil || ProcessInfo.processInfo.environment["DAXRIG_TEST_PROFILE"] == nil ? nil : self
    }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let started = Date()
        defer { Self.record(test, started: started, ended: Date()) }
        try await function()
    }

    private static let lock = NSLock()

    static func record(_ test: Test, started: Date, ended: Date) {
        guard let path = ProcessInfo.processInfo.environment["DAXRIG_TEST_PROFILE"] else { return }
        // "IntegrationTests.SpecIntegrationTests/name()/File.swift:40:5" -> "SpecIntegrationTests"
        let suite = test.id.description.split(separator: "/").first?.split(separator: ".").last.map(String.init) ?? ""
        let line = String(format: "%.1f %.1f %.1f %@.%@\n", started.timeIntervalSince1970, ended.timeIntervalSince1970,
                          ended.timeIntervalSince(started), suite, test.name)
        lock.lock(); defer { lock.unlock() }
        guard let handle = FileHandle(forWritingAtPath: path) ?? {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            return FileHandle(forWritingAtPath: path)
        }() else { return }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        handle.write(Data(line.utf8))
    }
}

extension Trait where Self == Timed {
    /// Records each test's own wall time (see Timed).
    static var timed: Self { Timed() }
}
