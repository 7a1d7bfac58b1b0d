import ArgumentParser
import DaxRig
import Foundation
import DaxRigMachine
import DaxRigKernel
import DaxRigSupport
import DaxRigResults
import DaxRigRun

struct KernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel",
        abstract: "Build kernels into daxrig's cache, and list them.",
        subcommands: [Build.self, List.self]
    )

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a kernel (or find it in the cache) and print its release and artifact directory.")

        @OptionGroup var kernel: KernelOptions
        @Flag(help: "Print the manifest as JSON on stdout.") var json = false

        func run() throws {
            let artifacts = try CLI.guarded { try KernelBuilder(progress: TerminalProgress()).build(kernel.request()) }
            if json {
                try CLI.printJSON(artifacts.manifest)
            } else {
                let m = artifacts.manifest
                print("kernel \(m.release) [\(m.key)] \(artifacts.cacheHit ? "cache hit" : String(format: "built in %.0f s, %d files compiled", m.timings.totalSeconds, m.compiledFiles) + (m.changedSinceLastBuild.map { ", \($0.count) sources changed since the build directory's last build" } ?? ""))")
                print(artifacts.directory.path)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the cached kernels with their inputs.")
        @Flag(help: "Print the manifests as a JSON array.") var json = false

        func run() throws {
            let kernels = KernelStore().list()
            if json {
                try CLI.printJSON(kernels.map(\.manifest))
                return
            }
            if kernels.isEmpty { print("no kernels cached yet: run `daxrig kernel build`"); return }
            for kernel in kernels {
                let m = kernel.manifest
                let patches = m.patches.isEmpty ? "no patches" : "\(m.patches.count) patches (\(m.patchSeries ?? ""))"
                print("\(m.key)  \(m.release)  \(m.source)  \(patches)  \(m.configBase)+\(m.fragments.map { ($0 as NSString).lastPathComponent }.joined(separator: ","))  \(String(format: "%.0fs", m.timings.totalSeconds))")
            }
        }
    }
}

/// The options that pick a kernel to build; shared by every command that builds one.
struct KernelOptions: ParsableArguments {
    @Option(help: "Kernel source: a tarball or a kernel tree directory (default: Debian's linux-source-6.1 tarball).")
    var source: String?
    @Option(help: "A git repository to build from (with --ref); daxrig checks it out on its own.")
    var git: String?
    @Option(help: "The branch, tag or commit to build from --git.")
    var ref: String?
    @OptionGroup var build: BuildOptions

    func request() throws -> KernelBuildRequest {
        if git != nil, source != nil { throw ValidationError("give either --source or --git, not both") }
        if (git == nil) != (ref == nil) { throw ValidationError("--git and --ref go together") }
        let kernelSource: KernelSource
        if let git, let ref {
            kernelSource = .git(repository: git, ref: ref)
        } else if let source {
            kernelSource = .local(source)
        } else {
            kernelSource = .default
        }
        return try KernelBuildRequest(source: kernelSource, patches: try build.patches.map { try PatchSeries.load(directory: $0) },
                                      base: build.base, fragmentPaths: build.fragments, assignments: build.overrides)
    }
}

/// What goes into a kernel besides its source: patches and config. `kernel build` and
/// `bisect` take the same ones.
struct BuildOptions: ParsableArguments {
    @Option(help: "A patch series directory (a 'series' file plus patches).")
    var patches: String?
    @Option(help: "Base config: tinyconfig, defconfig, or a .config file.")
    var base: String = "tinyconfig"
    @Option(name: .customLong("fragment"), help: "A config fragment; repeatable, applied in order (default: the built-in pmem-dax.config).")
    var fragments: [String] = []
    @Option(name: .customLong("set"), help: "Override one option: CONFIG_X=y|m|n|value; repeatable, applied last.")
    var overrides: [String] = []
}

/// How the CLI turns library errors into messages and exit codes.
/// Where a campaign's cells run (matrix, nightly): how many at once on each host, and
/// the hosts.
struct CellPlacement: ParsableArguments {
    @Option(help: "Cells run at once on each host, within its memory.") var jobs = 1
    @Option(name: .customLong("host"), help: ArgumentHelp(
        "A libvirt host cells run on, --jobs at a time within its memory (repeatable; qemu:///system is this machine, qemu+ssh://user@host/system "
            + "or qemu+tls://host/system another, which gets the kernel and initrd as volumes). Default: this machine alone.",
        valueName: "uri"))
    var hosts: [String] = []

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs takes 1 or more, not \(jobs)") }
        _ = try CLI.hosts(hosts)
    }
}

enum CLI {
    /// One `--host` URI (boot, run, bisect) as `hosts` has it: nil for this machine.
    static func host(_ uri: String?) throws -> String? {
        try hosts(uri.map { [$0] } ?? [])[0]
    }

    /// `--host` URIs as the hosts cells run on: this machine's own libvirt (qemu:///system)
    /// is nil, the local way of booting; a URI that names no QEMU host is refused.
    static func hosts(_ uris: [String]) throws -> [String?] {
        for uri in uris {
            if let problem = LibvirtConnection.uriProblem(uri) ?? LibvirtConnection.transportProblem(uri) {
                throw ValidationError("--host \(uri): \(problem)")
            }
        }
        // Once each: a host named twice would get its jobs and its memory budget twice.
        var seen = Set<String?>()
        return uris.isEmpty ? [nil] : uris.map { $0 == LibvirtConnection.defaultURI ? nil : $0 }.filter { seen.insert($0).inserted }
    }

    /// Runs `body`; a daxrig error is printed as its message (no Swift dump) and exits
    /// with the status it carries (RigError).
    static func guarded<T>(_ body: () throws -> T) throws -> T {
        defer { Cleanup.shared.exitIfInterrupted() }
        do {
            return try body()
        } catch let error as ValidationError {
            throw error
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(exitCode(for: error))
        }
    }

    /// Prints `value` as daxrig's JSON (JSONCoding): what every `--json` prints.
    static func printJSON(_ value: some Encodable) throws {
        print(String(decoding: try JSONCoding.encoder.encode(value), as: UTF8.self))
    }

    /// Every daxrig error says its own status (RigError); anything else is the host's.
    static func exitCode(for error: Error) -> Int32 {
        (error as? any RigError)?.exitStatus.rawValue ?? ExitStatus.infrastructure.rawValue
    }
}
