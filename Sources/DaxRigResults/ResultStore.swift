import DaxRigRun
import Foundation
import GRDB
import DaxRigKernel
import DaxRigSupport

/// The history of runs: SQLite through GRDB, at `~/.cache/daxrig/results.sqlite` (or
/// `$DAXRIG_STORE`, or `--store`).
///
/// Crash-safe by construction: a run is inserted as `incomplete` in a transaction of
/// its own before anything boots, and everything it measured goes in with its
/// `complete` mark in one later transaction. A daxrig killed at any point leaves
/// either the incomplete row alone or the whole run, never half of one.
public struct ResultStore: Sendable {
    public let path: String
    let database: DatabaseQueue

    public static var defaultPath: String {
        if let path = ProcessInfo.processInfo.environment["DAXRIG_STORE"], !path.isEmpty { return path }
        return Cache.default.root.appendingPathComponent("results.sqlite").path
    }

    public init(path: String = ResultStore.defaultPath) throws {
        self.path = path
        try Ownership.check(path)
        do {
            try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
            database = try DatabaseQueue(path: path, configuration: Self.configuration)
            try Self.migrator.migrate(database)
        } catch {
            throw StoreError.unusable(path: path, reason: "\(error)")
        }
    }

    /// Several daxrig processes share one store (a nightly, a report, a bisect), and a
    /// reader holding a transaction (a sqlite3 shell) must not make a run's final
    /// COMMIT fail: in WAL mode readers never block a writer, and a writer waits its
    /// turn behind another writer instead of failing at once.
    static var configuration: Configuration {
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(Self.busySeconds)
        return configuration
    }

    /// How long a write waits for another process's write transaction to end.
    static let busySeconds: TimeInterval = 120

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "run") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("started", .text).notNull()
                t.column("finished", .text)
                t.column("state", .text).notNull()        // incomplete | complete
                t.column("status", .text)                 // worst TestStatus, when complete
                t.column("command", .text).notNull()
                t.column("spec", .text).notNull()
                t.column("specText", .text)
                t.column("kernelPath", .text).notNull()
                t.column("kernelKey", .text)
                t.column("kernelRelease", .text)
                t.column("source", .text)
                t.column("patchSeries", .text)
                t.column("patchesHash", .text)
                t.column("configHash", .text)
                t.column("host", .text).notNull()
                t.column("qemuVersion", .text)
                t.column("libvirtVersion", .text)
                t.column("accelerator", .text)
                t.column("seconds", .double)
            }
            try db.create(table: "test") { t in
                t.belongsTo("run", onDelete: .cascade).notNull()
                t.column("path", .text).notNull()
                t.column("status", .text).notNull()
                t.column("detail", .text).notNull()
                t.column("seconds", .double)
            }
            try db.create(table: "metric") { t in
                t.belongsTo("run", onDelete: .cascade).notNull()
                t.column("test", .text).notNull()
                t.column("name", .text).notNull()
                t.column("value", .double).notNull()
                t.column("unit", .text).notNull()
            }
            try db.create(table: "artifact") { t in
                t.belongsTo("run", onDelete: .cascade).notNull()
                t.column("kind", .text).notNull()
                t.column("path", .text).notNull()
            }
        }
        // Nights (`daxrig nightly`): a matrix run as one unit, compared with the last
        // complete one; each run knows its night, its matrix cell, and the run it re-ran.
        migrator.registerMigration("v2-nights") { db in
            try db.create(table: "night") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("started", .text).notNull()
                t.column("finished", .text)
                t.column("state", .text).notNull()        // incomplete | complete
                t.column("matrix", .text).notNull()       // the matrix's name: nights of one name are compared
                t.column("matrixPath", .text).notNull()
                t.column("matrixHash", .text)
                t.column("baseline", .integer)            // the night compared with
                t.column("exitStatus", .integer)
                t.column("summary", .text)                // the night's verdict (JSON)
            }
            try db.alter(table: "run") { t in
                t.add(column: "night", .integer).references("night", onDelete: .setNull)
                t.add(column: "cell", .text)
                t.add(column: "rerunOf", .integer)
            }
            try db.create(table: "workload") { t in
                t.belongsTo("run", onDelete: .cascade).notNull()
                t.column("name", .text).notNull()
                t.column("backing", .text).notNull()
                t.column("processes", .integer).notNull()
                t.column("mappingBytes", .integer).notNull()
            }
        }
        // The kernel's whole manifest with the run: what KCIDB's checkout and build say
        // (source identity, patch hashes, config, compiler, build time) comes from it.
        migrator.registerMigration("v3-kernel-manifest") { db in
            try db.alter(table: "run") { t in t.add(column: "kernelManifest", .text) }
        }
        return migrator
    }

    /// Records that a run began; returns its id.
    public func begin(_ run: RunInputs) throws -> Int64 {
        try database.write { db in
            try BegunRun(inputs: run, started: Self.timestamp(Date())).insert(db)
            return db.lastInsertedRowID
        }
    }

    /// Stores everything the run measured and marks it complete, in one transaction.
    public func finish(_ id: Int64, record: RunRecord, artifacts: [(kind: String, path: String)], seconds: Double) throws {
        try database.write { db in
            for test in record.tests { try OfRun(run: id, child: test).insert(db) }
            for metric in record.metrics { try OfRun(run: id, child: metric).insert(db) }
            for workload in record.workloads { try OfRun(run: id, child: workload).insert(db) }
            for artifact in artifacts { try OfRun(run: id, child: StoredRunReport.Artifact(kind: artifact.kind, path: artifact.path)).insert(db) }
            typealias Columns = StoredRun.Columns
            try StoredRun.filter(Columns.id == id).updateAll(db, [
                Columns.state.set(to: RunState.complete.rawValue), Columns.status.set(to: record.status.rawValue),
                Columns.finished.set(to: Self.timestamp(Date())), Columns.seconds.set(to: seconds),
            ])
        }
    }

    /// Runs, newest first.
    public func runs(limit: Int = 50) throws -> [StoredRun] {
        try database.read { db in try StoredRun.order(StoredRun.Columns.id.desc).limit(limit).fetchAll(db) }
    }

    public func run(_ id: Int64) throws -> StoredRun? {
        try database.read { db in try StoredRun.filter(StoredRun.Columns.id == id).fetchOne(db) }
    }

    /// The newest complete run.
    public func lastComplete() throws -> StoredRun? {
        try database.read { db in
            try StoredRun.filter(StoredRun.Columns.state == RunState.complete.rawValue).order(StoredRun.Columns.id.desc).fetchOne(db)
        }
    }

    /// A stored run's subtests and metrics, as they were recorded.
    public func record(_ id: Int64) throws -> RunRecord {
        try database.read { db in
            RunRecord(tests: try OfRun<TestRecord>.all(of: id, in: db), metrics: try OfRun<MetricRecord>.all(of: id, in: db),
                      workloads: try OfRun<WorkloadRecord>.all(of: id, in: db))
        }
    }

    /// A stored run with everything recorded for it, as the reports take it.
    public func report(_ id: Int64) throws -> StoredRunReport {
        guard let run = try run(id) else { throw StoreError.noSuchRun("\(id)") }
        return StoredRunReport(run: run, record: try record(id), artifacts: try database.read { try OfRun<StoredRunReport.Artifact>.all(of: id, in: $0) })
    }

    /// The complete runs of the same kernel and spec as `run`: its repeated samples.
    public func samples(like run: StoredRun) throws -> [Int64] {
        try database.read { db in
            try Int64.fetchAll(db, sql: """
                SELECT id FROM run WHERE state = 'complete' AND spec = ? AND (kernelKey IS ? OR (kernelKey IS NULL AND kernelPath = ?))
                ORDER BY id
                """, arguments: [run.spec, run.kernelKey, run.kernelPath])
        }
    }

    public func artifacts(_ id: Int64) throws -> [(kind: String, path: String)] {
        try database.read { db in
            try OfRun<StoredRunReport.Artifact>.all(of: id, in: db).map { ($0.kind, $0.path) }
        }
    }

    /// SQLite's own check of the file; "ok" when sound.
    public func integrityCheck() throws -> String {
        try database.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "no answer" }
    }

    static func timestamp(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
}

/// What is known about a run before it starts: the inputs and the environment.
public struct RunInputs: Sendable, Codable, Equatable {
    public var command: String
    public var spec: String
    public var specText: String?
    public var kernelPath: String
    public var kernelKey: String?
    public var kernelRelease: String?
    public var source: String?
    public var patchSeries: String?
    public var patchesHash: String?
    public var configHash: String?
    public var host: String
    public var qemuVersion: String?
    public var libvirtVersion: String?
    public var accelerator: String?
    /// The kernel's manifest (KernelManifest, JSON) when daxrig built it.
    public var kernelManifest: String?
    /// The night (`daxrig nightly`) the run belongs to, its matrix cell (the kernel's
    /// name in the matrix), and the run it repeats when it re-runs a new failure.
    public var night: Int64?
    public var cell: String?
    public var rerunOf: Int64?

    /// The run's inputs as its caller knows them: the kernel's manifest when daxrig
    /// built it, and the host's name (this machine's unless another booted it) and
    /// versions as the run measured them (the store reads nothing and dials nothing).
    public static func gather(command: String, spec: String, specText: String?, kernelPath: String, manifest: KernelManifest?,
                              accelerator: String?, versions: (libvirt: String?, qemu: String?), host: String? = nil) -> RunInputs {
        let patches = manifest.map { $0.patches.map { "\($0.name) \($0.sha256)" }.joined(separator: "\n") }
        return RunInputs(command: command, spec: spec, specText: specText, kernelPath: kernelPath, kernelKey: manifest?.key,
                         kernelRelease: manifest?.release,
                         source: manifest.map { "\($0.sourceIdentity.kind):\($0.sourceIdentity.id)" }, patchSeries: manifest?.patchSeries,
                         patchesHash: patches.map { ContentHash.of($0) }, configHash: manifest?.configSHA256,
                         host: host ?? ProcessInfo.processInfo.hostName, qemuVersion: versions.qemu, libvirtVersion: versions.libvirt,
                         accelerator: accelerator,
                         kernelManifest: manifest.flatMap { try? JSONCoding.encoder.encode($0) }.map { String(decoding: $0, as: UTF8.self) })
    }
}

/// Where a stored run or night stands: begun and not (yet) finished, which is also how
/// a killed or interrupted one stays, or finished with everything it measured. The
/// store's SQL spells the same two words.
public enum RunState: String, Sendable, Codable, Equatable {
    case incomplete, complete

    /// A value the store holds that this daxrig does not know reads as incomplete: never
    /// a baseline, never taken for a finished run.
    init(stored: String) { self = RunState(rawValue: stored) ?? .incomplete }

    /// The same from JSON (`report list --print-json` of a newer daxrig's store).
    public init(from decoder: any Decoder) throws {
        self.init(stored: try decoder.singleValueContainer().decode(String.self))
    }
}

/// A run as the store lists it.
public struct StoredRun: Sendable, Codable, Equatable {
    public var id: Int64
    public var started: String
    public var finished: String?
    public var state: RunState
    public var status: TestStatus?
    public var command: String
    public var spec: String
    public var kernelPath: String
    public var kernelKey: String?
    public var kernelRelease: String?
    public var host: String
    public var accelerator: String?
    public var qemuVersion: String?
    public var libvirtVersion: String?
    public var seconds: Double?
    public var kernelManifest: String?
    public var night: Int64?
    public var cell: String?
    public var rerunOf: Int64?
}

/// The results store cannot be opened or written.
public enum StoreError: RigError, Equatable {
    /// A run or night that is not there is the user's input (2); a store that cannot be used is the host's (3).
    public var exitStatus: ExitStatus {
        switch self {
        case .noSuchRun, .noSuchNight: .badInput
        case .unusable: .infrastructure
        }
    }

    case unusable(path: String, reason: String)
    case noSuchRun(String)
    case noSuchNight(String)

    public var description: String {
        switch self {
        case let .unusable(path, reason):
            return "the results store \(path) cannot be used: \(reason) (give another with --store or $DAXRIG_STORE)"
        case let .noSuchRun(reference):
            return "no run \(reference) in the results store (`daxrig report --list` shows the runs)"
        case let .noSuchNight(reference):
            return "no night \(reference) in the results store (`daxrig report --nights` shows the nights)"
        }
    }
}
