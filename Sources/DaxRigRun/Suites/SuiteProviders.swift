import DaxRigImage
import DaxRigKernel
import DaxRigSupport
import Foundation

/// Makes a provider's suite concrete for one kernel: its tests built from that kernel's
/// tree, its runner written for that kernel's config, both added to the boot.
public enum SuiteProviders {
    /// Where the provider's files land in the guest.
    public static let guestDirectory = "/root/selftests"

    public static func prepare(_ spec: TestSpec, kernel: BootableKernel, cache: Cache = .default, progress: ProgressSink) throws -> TestSpec {
        guard spec.suites.contains(where: { $0.provider != nil }) else { return spec }
        var copy = spec
        for index in copy.suites.indices {
            // Prepared once: a nightly's re-run hands the prepared spec back.
            guard let provider = copy.suites[index].provider, copy.suites[index].command.isEmpty else { continue }
            copy.suites[index] = try prepare(copy.suites[index], provider: provider, kernel: kernel, cache: cache, progress: progress)
        }
        return copy
    }

    static func prepare(_ suite: SuiteSpec, provider: SuiteSpec.Provider, kernel: BootableKernel, cache: Cache, progress: ProgressSink) throws -> SuiteSpec {
        switch provider {
        case .selftestsMM:
            guard let build = kernel.build else { throw SuiteError.noTree(suite: suite.name, kernel: kernel.bzImage) }
            guard let listPath = suite.testList else { throw SuiteError.noTree(suite: suite.name, kernel: kernel.bzImage) }
            let list = try SelftestList.load(listPath)
            let binaries = try SelftestBuilder(cache: cache, progress: progress).buildMM(for: build)
            let directory = guestDirectory + "/mm"
            let script = list.script(directory: directory, suite: "mm", testTimeout: suite.testTimeout,
                                     builtIn: KernelFiles(bzImage: kernel.bzImage).builtIn())
            let runners = try cache.directory(cache.root.appendingPathComponent("selftests/runners"))
            let path = runners.appendingPathComponent(ContentHash.of(script).prefix(20) + ".sh").path
            if !Files.exists(path) { try Files.write(script, to: path) }
            var concrete = suite
            concrete.additions += [GuestAddition(host: binaries, guest: directory), GuestAddition(host: path, guest: guestDirectory + "/run-mm.sh")]
            concrete.command = "sh \(guestDirectory)/run-mm.sh"
            return concrete
        }
    }
}

/// A suite daxrig cannot prepare.
public enum SuiteError: RigError, Equatable {
    public var exitStatus: ExitStatus { .badInput }

    /// The provider builds from the kernel's tree, and a bare bzImage has none daxrig knows.
    case noTree(suite: String, kernel: String)

    public var description: String {
        switch self {
        case let .noTree(suite, kernel):
            return "suite \(suite) builds the kernel's own tests from the tree the kernel was built from, and \(kernel) is not a kernel daxrig built: "
                + "give --kernel a cached kernel's key (daxrig kernel list), or build it with daxrig kernel build"
        }
    }
}
