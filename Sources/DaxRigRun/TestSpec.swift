import DaxRigProtocol
import Foundation
import DaxRigSupport
import DaxRigMachine

/// A test spec: which workloads, persistence checks and stress runs to run on a kernel,
/// and what that kernel is expected to show. A TOML file; the format is documented in
/// kernels/specs/README.md, and `kernels/specs/default.toml` is compiled in as the
/// spec `daxrig run` uses when given none.
public struct TestSpec: Sendable, Equatable {
    public var name: String
    public var description: String
    public var workloads: [WorkloadCase]
    public var persistence: [PersistenceCase]
    public var stress: [StressCase]
    /// `[[suite]]`s: commands whose KTAP daxrig judges (Suites/SuiteSpec.swift).
    public var suites: [SuiteSpec] = []
    /// Seconds per boot before the boot is a timeout.
    public var timeout: Double?
    /// vCPUs of every boot (2 when the spec does not say): more CPUs than the host
    /// has cores is allowed under TCG, and is how a spec gets sharers running on
    /// many CPUs at once (a TLB shootdown then has many targets).
    public var cpus: Int?

    public init(name: String, description: String = "", workloads: [WorkloadCase], persistence: [PersistenceCase] = [],
                stress: [StressCase] = [], timeout: Double? = nil, cpus: Int? = nil) {
        self.cpus = cpus
        self.name = name
        self.description = description
        self.workloads = workloads
        self.persistence = persistence
        self.stress = stress
        self.timeout = timeout
    }

    /// Seconds per boot when the spec does not say.
    public static let defaultTimeout: Double = 900

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

    static let workloadKeys = ["name", "backing", "processes", "size", "access", "aligned", "map-sync", "offsets", "shifts", "mappings", "lengths",
                               "modes", "expect"]
    static let persistenceKeys = ["name", "backing", "size", "writers", "sync", "rewrite", "rewrite-offset", "expect"]
    static let stressKeys = ["name", "backing", "size", "sharers", "ops", "soak", "offsets", "shifts", "expect"]

    init(file: TOMLFile) throws {
        let top = file.top
        try top.onlyKeys(["name", "description", "timeout", "cpus", "defaults", "workload", "persistence", "stress", "suite"])
        name = try top.string("name") ?? URL(fileURLWithPath: file.path).deletingPathExtension().lastPathComponent
        description = try top.string("description") ?? ""
        timeout = try top.int("timeout").map(Double.init)
        if let timeout, !BootLimits.timeoutSeconds.contains(timeout) {
            throw top.error("timeout", "\(Int(timeout)) seconds: use 1 to \(Int(BootLimits.timeoutSeconds.upperBound)) (a week)")
        }
        cpus = try top.int("cpus")
        if let cpus, !BootLimits.vcpus.contains(cpus) {
            throw top.error("cpus", "\(cpus) vCPUs: use \(BootLimits.vcpus.lowerBound) to \(BootLimits.vcpus.upperBound)")
        }
        let defaults = try file.table("defaults")
        try defaults?.onlyKeys(Self.workloadKeys.filter { !["name", "offsets", "shifts", "mappings", "lengths", "modes"].contains($0) } + ["writers", "sync"])

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
        stress = []
        for section in try file.arrayOfTables("stress") {
            try section.onlyKeys(Self.stressKeys)
            stress += try Self.stress(section, timeout: timeout ?? Self.defaultTimeout)
        }
        let directory = URL(fileURLWithPath: file.path).deletingLastPathComponent().path
        suites = try file.arrayOfTables("suite").map { try SuiteSpec.parse($0, specDirectory: directory) }
        guard !workloads.isEmpty || !persistence.isEmpty || !stress.isEmpty || !suites.isEmpty else {
            throw top.error(nil, "the spec names no [[workload]], no [[persistence]], no [[stress]] and no [[suite]]", hint: "see kernels/specs/README.md")
        }
        var seen: [String: String] = [:]
        for item in caseNames {
            if let earlier = seen[item] {
                throw top.error(nil, "two runs are named '\(item)' (\(earlier))", hint: "give each [[workload]], [[persistence]], [[stress]] or [[suite]] its own name")
            }
            seen[item] = "names must be unique"
        }
    }

    /// Every workload's, persistence check's, stress run's and suite's name.
    var caseNames: [String] { workloads.map(\.spec.name) + persistence.map(\.spec.name) + stress.map(\.spec.name) + suites.map(\.name) }

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
        let geometry = try Self.geometry(section, size: size, backings: backings, aligned: aligned)
        if let n = counts.first(where: { geometry.writers(processes: $0).isEmpty }) {
            throw section.error("modes", "with \(n) processes every one is read-only: nobody writes the data the others check",
                                hint: "start `modes` with \"rw\", or run more processes")
        }
        let expectations = try Self.expectations(section, defaults: defaults)
        let base = try section.string("name")
        return backings.flatMap { backing in
            counts.map { n in
                let prefix = base.map { backings.count > 1 ? "\($0)-\(backing.rawValue)" : $0 } ?? backing.rawValue
                return WorkloadCase(spec: WorkloadSpec(name: "\(prefix)-n\(n)", backing: backing, processes: n, mappingBytes: size,
                                                       pudAligned: aligned, access: access, mapSync: mapSync, geometry: geometry),
                                    expectations: expectations)
            }
        }
    }

    /// `offsets`, `shifts` (sizes in whole 4 KiB pages, taken in turn by worker index)
    /// and `mappings` (of the file, per process).
    private static func geometry(_ section: TOMLSection, size: UInt64, backings: [WorkloadSpec.Backing], aligned: Bool) throws -> MappingGeometry {
        let geometry = MappingGeometry(fileOffsets: try section.byteSizes("offsets") ?? [0], addressShifts: try section.byteSizes("shifts") ?? [0],
                                       mappings: try section.int("mappings") ?? 1, lengths: try section.byteSizes("lengths") ?? [],
                                       readOnly: (try section.choices("modes", MappingGeometry.Mode.self) ?? []).map { $0 == .ro })
        let base = WorkloadSpec(name: "", backing: .fsdaxXfs, processes: 1, mappingBytes: size, pudAligned: aligned).mapAddress
        if let (key, problem) = geometry.problem(length: size, base: base) {
            throw section.error(key, problem, hint: key == "modes" ? "make at least one process rw, e.g. [\"rw\", \"ro\"]"
                                : "offsets, shifts and lengths are sizes in whole 4 KiB pages, offsets below every length, e.g. [0, \"4K\"]")
        }
        if backings.contains(.hugetlbfs), let bad = (geometry.fileOffsets + geometry.addressShifts + geometry.lengths).first(where: { $0 % (2 << 20) != 0 }) {
            let key = geometry.fileOffsets.contains(bad) ? "offsets" : geometry.addressShifts.contains(bad) ? "shifts" : "lengths"
            throw section.error(key, "hugetlbfs maps whole 2 MiB pages: \(bad) bytes is not a multiple of 2M",
                                hint: "use 2M steps on hugetlbfs, or an FS/DAX backing for 4 KiB steps")
        }
        return geometry
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
        let rewrite = try section.bool("rewrite") ?? false
        let rewriteOffset = try section.byteSize("rewrite-offset") ?? 0
        if rewriteOffset != 0 && !rewrite {
            throw section.error("rewrite-offset", "a rewrite offset without rewrite = true", hint: "add rewrite = true, or drop rewrite-offset")
        }
        guard rewriteOffset % 4096 == 0, rewriteOffset < size else {
            throw section.error("rewrite-offset", "\(ByteSize.format(rewriteOffset)) is not a whole number of 4 KiB pages below the size",
                                hint: "use a size in whole 4 KiB pages, e.g. \"4K\" or \"2M\"")
        }
        let expectations = try Self.expectations(section, defaults: defaults).filter(PersistenceCase.applicable.contains)
        let base = try section.string("name") ?? "persist"
        return backings.flatMap { backing in
            syncs.map { sync in
                PersistenceCase(spec: PersistenceSpec(name: "\(base)-\(backing.rawValue)-\(sync.rawValue)", backing: backing, bytes: size,
                                                      writers: writers, sync: sync, rewrite: rewrite, rewriteOffset: rewriteOffset),
                                expectations: expectations.isEmpty ? PersistenceCase.applicable : expectations)
            }
        }
    }

    /// One StressCase per backing, named `<name>-<backing>`, or the name alone for one
    /// backing. [defaults] does not apply: a stress run's size is whole GiB, and its
    /// expectations are its own.
    private static func stress(_ section: TOMLSection, timeout: Double) throws -> [StressCase] {
        let backings = try section.choices("backing", WorkloadSpec.Backing.self) ?? [.fsdaxXfs]
        if let other = backings.first(where: { $0.pmemFileSystem == nil }) {
            throw section.error("backing", "stress runs on FS/DAX: \(other.rawValue) is not", hint: "use fsdax-xfs or fsdax-ext4")
        }
        guard !backings.isEmpty else { throw section.error("backing", "\(section.label) needs a backing", hint: "fsdax-xfs, fsdax-ext4 or both") }
        let size = try section.byteSize("size") ?? (1 << 30)
        guard size >= 1 << 30, size % (1 << 30) == 0, size <= StressSpec.maximumBytes else {
            throw section.error("size", "\(ByteSize.format(size)) is not a whole number of GiB from 1G to \(ByteSize.format(StressSpec.maximumBytes))",
                                hint: "a stress run maps whole PUD ranges, e.g. 1G")
        }
        let sharers = try section.int("sharers") ?? 8
        guard (0...256).contains(sharers) else { throw section.error("sharers", "\(sharers) sharers: use 0 to 256") }
        let ops = try section.choices("ops", StressSpec.Op.self) ?? StressSpec.defaultOps
        if let twice = ops.first(where: { op in ops.filter { $0 == op }.count > 1 }) {
            throw section.error("ops", "'\(twice.rawValue)' is listed twice", hint: "one mutator per op")
        }
        if ops.filter(\.cutsTheFile).count > 1 {
            throw section.error("ops", "truncate and tlb-truncate both need the file's last stripe", hint: "run them in two [[stress]] sections")
        }
        guard sharers + ops.count >= 1 else { throw section.error("sharers", "no sharers and no ops: nothing would run", hint: "the default is 8 sharers and every op") }
        let soak = try section.int("soak") ?? 20
        guard soak >= 1, Double(soak) + 120 <= timeout else {
            throw section.error("soak", "\(soak) seconds: use 1 to \(Int(timeout) - 120) (the boot's timeout, \(Int(timeout)) s, less 2 minutes)",
                                hint: "raise `timeout` at the top of the spec for a longer soak")
        }
        let geometry = MappingGeometry(fileOffsets: try section.byteSizes("offsets") ?? [0], addressShifts: try section.byteSizes("shifts") ?? [0])
        if let (key, problem) = geometry.problem(length: size, base: WorkloadSpec(name: "", backing: .fsdaxXfs, processes: 1, mappingBytes: size).mapAddress) {
            throw section.error(key, problem, hint: "offsets and shifts are sizes in whole 4 KiB pages, e.g. [0, \"4K\"]")
        }
        if geometry.maximumFileOffset >= StressSpec.maximumFileOffset {
            throw section.error("offsets", "a file offset of \(ByteSize.format(geometry.maximumFileOffset)) is 2 MiB or more",
                                hint: "a stress process maps from an offset below one 2 MiB stripe; 4K steps below 2M, e.g. [0, \"4K\"]")
        }
        let expectations = try section.choices("expect", Expectation.self) ?? StressCase.defaultExpectations
        let base = try section.string("name") ?? "stress"
        return backings.map { backing in
            StressCase(spec: StressSpec(name: backings.count > 1 ? "\(base)-\(backing.rawValue)" : base, backing: backing, bytes: size,
                                        sharers: sharers, ops: ops, soakSeconds: soak, geometry: geometry),
                       expectations: expectations.reduce(into: []) { if !$0.contains($1) { $0.append($1) } })
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
    /// process counts (workloads only), this size. Refuses overrides that leave nothing
    /// to run, and a size a stress run cannot take.
    public func overriding(processes: [Int]?, size: UInt64?, backings: [WorkloadSpec.Backing]?) throws -> TestSpec {
        var copy = self
        if let backings {
            copy.workloads = workloads.filter { backings.contains($0.spec.backing) }
            copy.persistence = persistence.filter { backings.contains($0.spec.backing) }
            copy.stress = stress.filter { backings.contains($0.spec.backing) }
            copy.suites = suites.filter { suite in backings.contains { $0.pmemFileSystem == suite.fileSystem } }
            if copy.workloads.isEmpty && copy.persistence.isEmpty && copy.stress.isEmpty && copy.suites.isEmpty {
                let has = Set(workloads.map(\.spec.backing.rawValue) + persistence.map(\.spec.backing.rawValue) + stress.map(\.spec.backing.rawValue)).sorted()
                throw SpecOverrideError(message: "spec \(name) has no run on \(backings.map(\.rawValue).joined(separator: ", ")); it has \(has.joined(separator: ", "))")
            }
        }
        if let size {
            if !copy.stress.isEmpty, size % (1 << 30) != 0 || size > StressSpec.maximumBytes {
                throw SpecOverrideError(message: "--size \(ByteSize.format(size)): spec \(name) has stress runs, which map whole GiB up to \(ByteSize.format(StressSpec.maximumBytes))")
            }
            for index in copy.workloads.indices { copy.workloads[index].spec.mappingBytes = size }
            for index in copy.persistence.indices { copy.persistence[index].spec.bytes = size }
            for index in copy.stress.indices { copy.stress[index].spec.bytes = size }
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

    /// The workload, persistence check or stress run a subtest path ("name.expectation",
    /// or the name alone) belongs to.
    public func caseName(of path: String) -> String? {
        caseNames.first { path == $0 || path.hasPrefix($0 + ".") }
    }

    /// The spec cut down to the named workloads, persistence checks and stress runs: what
    /// a re-run of a few failures needs, and no more.
    public func only(_ names: Set<String>) -> TestSpec {
        var copy = self
        copy.workloads = workloads.filter { names.contains($0.spec.name) }
        copy.persistence = persistence.filter { names.contains($0.spec.name) }
        copy.stress = stress.filter { names.contains($0.spec.name) }
        copy.suites = suites.filter { names.contains($0.name) }
        return copy
    }

    /// The cases `--only` names: each pattern is a case name as the run prints it
    /// (`f1-noncongruent-4k-n2`, `rewrite-fsdax-xfs-msync`) or a shell glob over them
    /// (`'f1-*'`). A pattern that matches nothing is bad input, named with the cases
    /// the spec has, so a typo never turns into a run of nothing that passes.
    public func selecting(_ patterns: [String]) throws -> TestSpec {
        let names = caseNames
        for pattern in patterns where !names.contains(where: { Self.matches($0, pattern) }) {
            throw SpecOverrideError(message: "--only \(pattern): spec \(name) has no such case; it has \(names.joined(separator: ", "))")
        }
        return only(Set(names.filter { name in patterns.contains { Self.matches(name, $0) } }))
    }

    private static func matches(_ name: String, _ pattern: String) -> Bool { fnmatch(pattern, name, 0) == 0 }

    /// The most guest memory any one boot of the spec takes: what a matrix job holds
    /// while the spec runs.
    public var guestMemoryMiB: Int {
        let mapping = workloads + stress.map(\.mapping)
        return max(mapping.isEmpty ? 0 : WorkloadRunner.memoryMiB(for: mapping), persistence.isEmpty ? 0 : PersistenceRunner.memoryMiB,
                   suites.map(\.memoryMiB).max() ?? 0)
    }
}

/// Command-line overrides that do not fit the spec.
public struct SpecOverrideError: RigError, Equatable {
    /// What the user can fix: exit 2.
    public var exitStatus: ExitStatus { .badInput }

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

/// A stress run and what it is expected to show (by default: nothing lost, nothing
/// leaked, nothing in the kernel log).
public struct StressCase: Sendable, Equatable {
    public static let defaultExpectations: [Expectation] = [.dataIntact, .noLeak, .kernelLogClean]

    public var spec: StressSpec
    public var expectations: [Expectation]

    public init(spec: StressSpec, expectations: [Expectation] = StressCase.defaultExpectations) {
        self.spec = spec
        self.expectations = expectations
    }

    /// Its mapping phase as a workload case: what sizes the guest and what the host
    /// must hold, by the workloads' own rules.
    public var mapping: WorkloadCase { WorkloadCase(spec: spec.mapping, expectations: expectations) }
}
