import DaxRigProtocol
import Foundation

/// A test spec: which workloads and persistence checks to run on a kernel, and what
/// that kernel is expected to show. A TOML file; the format is documented in
/// kernels/specs/README.md, and `kernels/specs/default.toml` is compiled in as the
/// spec `daxrig run` uses when given none.
public struct TestSpec: Sendable, Equatable {
    public var name: String
    public var description: String
    public var workloads: [WorkloadCase]
    public var persistence: [PersistenceCase]
    /// Seconds per boot before the boot is a timeout.
    public var timeout: Double?

    public init(name: String, description: String = "", workloads: [WorkloadCase], persistence: [PersistenceCase] = [], timeout: Double? = nil) {
        self.name = name
        self.description = description
        self.workloads = workloads
        self.persistence = persistence
        self.timeout = timeout
    }

    /// kernels/specs/default.toml as compiled into daxrig.
    public static var builtIn: TestSpec {
        // The embedded copy cannot fail to parse without the unit tests failing first.
        try! parse(String(decoding: builtInText, as: UTF8.self), path: "kernels/specs/default.toml (built in)")
    }

    public static var builtInText: [UInt8] { PackageResources.default_toml }

    public static func load(_ path: String) throws -> TestSpec {
        try TestSpec(file: TOMLFile.load(path))
    }

    public static func parse(_ text: String, path: String) throws -> TestSpec {
        try TestSpec(file: TOMLFile(path: path, text: text))
    }

    static let workloadKeys = ["name", "backing", "processes", "size", "access", "aligned", "map-sync", "expect"]
    static let persistenceKeys = ["name", "backing", "size", "writers", "sync", "expect"]

    init(file: TOMLFile) throws {
        let top = file.top
        try top.onlyKeys(["name", "description", "timeout", "defaults", "workload", "persistence"])
        name = try top.string("name") ?? URL(fileURLWithPath: file.path).deletingPathExtension().lastPathComponent
        description = try top.string("description") ?? ""
        timeout = try top.int("timeout").map(Double.init)
        if let timeout, timeout <= 0 { throw top.error("timeout", "must be a positive number of seconds") }
        let defaults = try file.table("defaults")
        try defaults?.onlyKeys(Self.workloadKeys.filter { $0 != "name" } + ["writers", "sync"])

        workloads = []
        for section in try file.arrayOfTables("workload") {
            try section.onlyKeys(Self.workloadKeys)
            workloads += try Self.workloads(section, defaults: defaults)
        }
        persistence = []
        for section in try file.arrayOfTables("persistence") {
            try section.onlyKeys(Self.persistenceKeys)
            persistence += try Self.persistence(section, defaults: defaults)
        }
        guard !workloads.isEmpty || !persistence.isEmpty else {
            throw top.error(nil, "the spec names no [[workload]] and no [[persistence]]", hint: "see kernels/specs/README.md")
        }
        var seen: [String: String] = [:]
        for item in workloads.map(\.spec.name) + persistence.map(\.spec.name) {
            if let earlier = seen[item] {
                throw top.error(nil, "two runs are named '\(item)' (\(earlier))", hint: "give each [[workload]] its own name")
            }
            seen[item] = "names must be unique"
        }
    }

    /// A key read from the section, else from [defaults].
    private static func value<T>(_ section: TOMLSection, _ defaults: TOMLSection?, _ read: (TOMLSection) throws -> T?) throws -> T? {
        if let own = try read(section) { return own }
        return try defaults.flatMap(read)
    }

    /// One WorkloadCase per backing x process count, named `<name>-n<N>` (the name
    /// defaults to the backing).
    private static func workloads(_ section: TOMLSection, defaults: TOMLSection?) throws -> [WorkloadCase] {
        guard let backings = try value(section, defaults, { try $0.choices("backing", WorkloadSpec.Backing.self) }), !backings.isEmpty else {
            throw section.error("backing", "\(section.label) needs a backing", hint: "one or more of \(WorkloadSpec.Backing.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let counts = try value(section, defaults) { try $0.ints("processes") } ?? [1]
        for n in counts where !(1...10_000).contains(n) {
            throw section.error("processes", "\(n) processes: use 1 to 10000")
        }
        let size = try value(section, defaults) { try $0.byteSize("size") } ?? (1 << 30)
        guard size >= 2 << 20, size % (2 << 20) == 0 else {
            throw section.error("size", "\(ByteSize.format(size)) is not a whole number of 2 MiB regions", hint: "use a multiple of 2M, e.g. 1G")
        }
        let access = try value(section, defaults) { try $0.choice("access", WorkloadSpec.Access.self) } ?? .writePer2M
        let aligned = try value(section, defaults) { try $0.bool("aligned") } ?? true
        let mapSync = try value(section, defaults) { try $0.bool("map-sync") } ?? false
        if mapSync, let other = backings.first(where: { $0.pmemFileSystem == nil }) {
            throw section.error("map-sync", "MAP_SYNC needs an FS/DAX backing; \(other.rawValue) refuses it", hint: "use fsdax-xfs or fsdax-ext4")
        }
        let expectations = try Self.expectations(section, defaults: defaults)
        let base = try section.string("name")
        return backings.flatMap { backing in
            counts.map { n in
                let prefix = base.map { backings.count > 1 ? "\($0)-\(backing.rawValue)" : $0 } ?? backing.rawValue
                return WorkloadCase(spec: WorkloadSpec(name: "\(prefix)-n\(n)", backing: backing, processes: n, mappingBytes: size,
                                                       pudAligned: aligned, access: access, mapSync: mapSync),
                                    expectations: expectations)
            }
        }
    }

    private static func persistence(_ section: TOMLSection, defaults: TOMLSection?) throws -> [PersistenceCase] {
        let backings = try section.choices("backing", WorkloadSpec.Backing.self) ?? [.fsdaxXfs]
        if let other = backings.first(where: { $0.pmemFileSystem == nil }) {
            throw section.error("backing", "persistence needs pmem: \(other.rawValue) does not survive a power-off", hint: "use fsdax-xfs or fsdax-ext4")
        }
        let size = try value(section, defaults) { try $0.byteSize("size") } ?? (256 << 20)
        guard size >= 2 << 20, size % (2 << 20) == 0 else {
            throw section.error("size", "\(ByteSize.format(size)) is not a whole number of 2 MiB regions", hint: "use a multiple of 2M, e.g. 256M")
        }
        let writers = try value(section, defaults) { try $0.int("writers") } ?? 4
        guard (1...64).contains(writers) else { throw section.error("writers", "\(writers) writers: use 1 to 64") }
        let syncs = try value(section, defaults) { try $0.choices("sync", PersistenceSpec.Sync.self) } ?? [.msync]
        let expectations = try Self.expectations(section, defaults: defaults).filter(PersistenceCase.applicable.contains)
        let base = try section.string("name") ?? "persist"
        return backings.flatMap { backing in
            syncs.map { sync in
                PersistenceCase(spec: PersistenceSpec(name: "\(base)-\(backing.rawValue)-\(sync.rawValue)", backing: backing, bytes: size,
                                                      writers: writers, sync: sync),
                                expectations: expectations.isEmpty ? PersistenceCase.applicable : expectations)
            }
        }
    }

    /// [defaults] expect, then the section's own, each once.
    private static func expectations(_ section: TOMLSection, defaults: TOMLSection?) throws -> [Expectation] {
        var result: [Expectation] = []
        for expectation in (try defaults?.choices("expect", Expectation.self) ?? []) + (try section.choices("expect", Expectation.self) ?? [])
        where !result.contains(expectation) {
            result.append(expectation)
        }
        return result
    }

    /// The spec with the command line's overrides: only the given backings, these
    /// process counts, this size. Refuses overrides that leave nothing to run.
    public func overriding(processes: [Int]?, size: UInt64?, backings: [WorkloadSpec.Backing]?) throws -> TestSpec {
        var copy = self
        if let backings {
            copy.workloads = workloads.filter { backings.contains($0.spec.backing) }
            copy.persistence = persistence.filter { backings.contains($0.spec.backing) }
            if copy.workloads.isEmpty && copy.persistence.isEmpty {
                let has = Set(workloads.map(\.spec.backing.rawValue) + persistence.map(\.spec.backing.rawValue)).sorted()
                throw SpecOverrideError(message: "spec \(name) has no run on \(backings.map(\.rawValue).joined(separator: ", ")); it has \(has.joined(separator: ", "))")
            }
        }
        if let size {
            for index in copy.workloads.indices { copy.workloads[index].spec.mappingBytes = size }
            for index in copy.persistence.indices { copy.persistence[index].spec.bytes = size }
        }
        if let processes {
            // One case per distinct workload (name less its -n<N>) and count.
            var seen = Set<String>()
            func stem(_ spec: WorkloadSpec) -> String {
                let suffix = "-n\(spec.processes)"
                return spec.name.hasSuffix(suffix) ? String(spec.name.dropLast(suffix.count)) : spec.name
            }
            copy.workloads = copy.workloads.filter { seen.insert(stem($0.spec)).inserted }.flatMap { item in
                let stem = stem(item.spec)
                return processes.map { n in
                    var spec = item.spec
                    spec.processes = n
                    spec.name = "\(stem)-n\(n)"
                    return WorkloadCase(spec: spec, expectations: item.expectations)
                }
            }
        }
        return copy
    }

    /// The workload or persistence check a subtest path ("name.expectation", or the
    /// name alone) belongs to.
    public func caseName(of path: String) -> String? {
        (workloads.map(\.spec.name) + persistence.map(\.spec.name)).first { path == $0 || path.hasPrefix($0 + ".") }
    }

    /// The spec cut down to the named workloads and persistence checks: what a re-run of
    /// a few failures needs, and no more.
    public func only(_ names: Set<String>) -> TestSpec {
        var copy = self
        copy.workloads = workloads.filter { names.contains($0.spec.name) }
        copy.persistence = persistence.filter { names.contains($0.spec.name) }
        return copy
    }

    /// The most guest memory any one boot of the spec takes: what a matrix job holds
    /// while the spec runs.
    public var guestMemoryMiB: Int {
        max(workloads.isEmpty ? 0 : WorkloadRunner.memoryMiB(for: workloads), persistence.isEmpty ? 0 : PersistenceRunner.memoryMiB)
    }
}

/// Command-line overrides that do not fit the spec.
public struct SpecOverrideError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public var description: String { message }
}

/// A workload and what it is expected to show on the kernel under test.
public struct WorkloadCase: Sendable, Equatable {
    public var spec: WorkloadSpec
    public var expectations: [Expectation]

    public init(spec: WorkloadSpec, expectations: [Expectation]) {
        self.spec = spec
        self.expectations = expectations
    }
}

/// A persistence check and its expectations (data-intact, kernel-log-clean).
public struct PersistenceCase: Sendable, Equatable {
    public static let applicable: [Expectation] = [.dataIntact, .kernelLogClean]

    public var spec: PersistenceSpec
    public var expectations: [Expectation]

    public init(spec: PersistenceSpec, expectations: [Expectation] = PersistenceCase.applicable) {
        self.spec = spec
        self.expectations = expectations
    }
}
