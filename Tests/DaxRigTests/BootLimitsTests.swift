import DaxRigProtocol
import Foundation
import Testing
@testable import DaxRigMachine
@testable import DaxRig
@testable import DaxRigSupport
@testable import DaxRigRun

/// Issue 14, item 5: numbers a user gives a boot trapped (`--timeout nan`,
/// `--pmem 8388608T`: exit 132) or reached libvirt (`--cpus 0`: exit 125 with
/// "Failed to parse bitmap '0--1'"). Each bound, at and past its edges.
@Suite struct BootLimitsTests {
    @Test(arguments: [0, -1, 256, Int.max, Int.min])
    func vcpusOutsideOneTo255AreRefused(_ count: Int) {
        #expect(throws: BootLimitError.self) { try BootLimits.check(vcpus: count) }
    }

    @Test func theEdgesThemselvesAreTaken() throws {
        try BootLimits.check(vcpus: 1)
        try BootLimits.check(vcpus: 255)
        try BootLimits.check(memoryBytes: 128 << 20, host: 1 << 30)
        try BootLimits.check(memoryBytes: 1 << 30, host: 1 << 30)
        try BootLimits.check(pmemBytes: 16 << 20)
        try BootLimits.check(pmemBytes: 64 << 40)
        try BootLimits.check(timeout: 1)
        try BootLimits.check(timeout: 604_800)
    }

    /// A bzImage that vanished between its resolution and the boot: bad input naming
    /// the path, before the run directory, the initrd or a domain exists.
    @Test func aBootOfAMissingBzImageIsRefusedNamingItsPath() throws {
        let cache = Cache(root: FileManager.default.temporaryDirectory.appendingPathComponent("daxrig-missing-\(UUID().uuidString)"))
        defer { Files.removeDirectory(cache.root.path) }
        let missing = cache.root.appendingPathComponent("no/bzImage").path
        let runner = GuestRunner(cache: cache)
        do {
            _ = try runner.boot(BootRequest(kernel: missing, plan: GuestPlan(command: ["true"])), image: try Fixtures.guestImage(in: cache.root)) { _, _ in }
            Issue.record("a missing bzImage booted")
        } catch let error as BootLimitError {
            #expect(error.exitStatus == .badInput)
            #expect(error.description.contains(missing))
        }
        #expect(!Files.exists(cache.root.appendingPathComponent("runs").path))
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity, 0, 0.5, -5, 604_801, 1e300])
    func timeoutsThatAreNotASecondToAWeekAreRefused(_ seconds: Double) {
        #expect(throws: BootLimitError.self) { try BootLimits.check(timeout: seconds) }
    }

    @Test func sizesPastTheirBoundsAreRefusedNamingTheOption() {
        #expect(throws: BootLimitError(input: "--pmem", value: "8388608 TiB", allowed: "takes 16 MiB to 64 TiB per nvdimm")) {
            try BootLimits.check(pmemBytes: 8_388_608 << 40)
        }
        #expect(throws: BootLimitError.self) { try BootLimits.check(pmemBytes: (16 << 20) - 1) }
        #expect(throws: BootLimitError.self) { try BootLimits.check(pmemBytes: (64 << 40) + 1) }
        #expect(throws: BootLimitError.self) { try BootLimits.check(memoryBytes: (128 << 20) - 1, host: 1 << 30) }
        #expect(throws: BootLimitError.self) { try BootLimits.check(memoryBytes: (1 << 30) + 1, host: 1 << 30) }
        #expect(throws: BootLimitError.self) { try BootLimits.check(memoryBytes: .max) }
    }

    @Test func aRequestIsCheckedWholeAndAMemoryThatOverflowsIsRefused() throws {
        let plan = GuestPlan(pmem: PmemSetup(fileSystem: .none), command: ["true"])
        var request = BootRequest(kernel: "/k", plan: plan, memoryMiB: 512, vcpus: 2, timeout: 60, keep: false, extraKernelArguments: [])
        try BootLimits.check(request)
        request.memoryMiB = Int.max
        #expect(throws: BootLimitError.self) { try BootLimits.check(request) }
        request.memoryMiB = 512
        request.pmemSizes = [2 << 30, 0]
        #expect(throws: BootLimitError.self) { try BootLimits.check(request) }
    }

    @Test func aSpecTimeoutPastAWeekIsRefusedWithItsLine() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("s.toml").path
        try Files.write("name = \"s\"\ntimeout = 99999999999999\n[[workload]]\nname = \"w\"\nbacking = \"tmpfs\"\nprocesses = 1\nsize = \"2M\"\n", to: path)
        #expect { try TestSpec.load(path) } throws: { "\($0)".contains("timeout: 99999999999999 seconds: use 1 to 604800") }
    }
}
