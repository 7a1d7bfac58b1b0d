import Foundation
import DaxRigSupport
import GRDB

/// A night as the store lists it: one `daxrig nightly` of a matrix.
public struct StoredNight: Sendable, Codable, Equatable {
    public var id: Int64
    public var started: String
    public var finished: String?
    public var state: RunState
    public var matrix: String
    public var matrixPath: String
    public var baseline: Int64?
    public var exitStatus: Int32?
    /// The night's verdict as JSON (a `NightVerdict`), once it is complete.
    public var summary: String?
}

/// One value of a metric in one night, for the chart of a metric over nights.
public struct NightMetric: Sendable, Codable, Equatable {
    public var night: Int64
    public var started: String
    public var cell: String
    public var spec: String
    public var test: String
    public var value: Double
    public var unit: String
}

extension ResultStore {
    /// Records that a night began (incomplete until `finishNight`).
    public func beginNight(matrix: String, path: String, matrixHash: String?) throws -> Int64 {
        try database.write { db in
            try BegunNight(started: Self.timestamp(Date()), matrix: matrix, matrixPath: path, matrixHash: matrixHash).insert(db)
            return db.lastInsertedRowID
        }
    }

    /// Marks a night complete with what it was compared with and its verdict.
    public func finishNight(_ id: Int64, baseline: Int64?, exitStatus: ExitStatus, summary: Data) throws {
        try database.write { db in
            typealias Columns = StoredNight.Columns
            try StoredNight.filter(Columns.id == id).updateAll(db, [
                Columns.state.set(to: RunState.complete.rawValue), Columns.finished.set(to: Self.timestamp(Date())),
                Columns.baseline.set(to: baseline), Columns.exitStatus.set(to: exitStatus.rawValue),
                Columns.summary.set(to: String(decoding: summary, as: UTF8.self)),
            ])
        }
    }

    /// Takes run `id` out of its night, the run itself kept: a cell whose host was lost
    /// under it ran again elsewhere, and that run is the night's, not this one.
    public func detachFromNight(_ id: Int64) throws {
        try database.write { db in
            _ = try StoredRun.filter(StoredRun.Columns.id == id).updateAll(db, [StoredRun.Columns.night.set(to: nil as Int64?)])
        }
    }

    public func night(_ id: Int64) throws -> StoredNight? {
        try database.read { db in try StoredNight.filter(StoredNight.Columns.id == id).fetchOne(db) }
    }

    /// The newest complete night of the same matrix before `id`: what tonight is compared with.
    public func lastCompleteNight(matrix: String, before id: Int64) throws -> StoredNight? {
        try database.read { db in
            try StoredNight.filter(StoredNight.Columns.matrix == matrix && StoredNight.Columns.state == RunState.complete.rawValue
                                   && StoredNight.Columns.id < id).order(StoredNight.Columns.id.desc).fetchOne(db)
        }
    }

    /// Nights, newest first.
    public func nights(limit: Int = 50) throws -> [StoredNight] {
        try database.read { db in
            try StoredNight.order(StoredNight.Columns.id.desc).limit(limit).fetchAll(db)
        }
    }

    /// The runs of a night in the order they ran, re-runs included.
    public func runs(night: Int64) throws -> [StoredRun] {
        try database.read { db in
            try StoredRun.filter(StoredRun.Columns.night == night).order(StoredRun.Columns.id).fetchAll(db)
        }
    }

    /// A metric's value in each of the last `limit` complete nights of `matrix` (and in
    /// `including`, tonight's, before it is marked complete), first runs only: re-runs
    /// would put one night's point on the chart several times.
    public func history(metric: String, matrix: String, including night: Int64? = nil, limit: Int = 30) throws -> [NightMetric] {
        try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT night.id AS night, night.started AS started, IFNULL(run.cell, '') AS cell, run.spec AS spec,
                       metric.test AS test, metric.value AS value, metric.unit AS unit
                FROM metric JOIN run ON metric.runId = run.id JOIN night ON run.night = night.id
                WHERE metric.name = ? AND night.matrix = ? AND run.rerunOf IS NULL AND run.state = 'complete'
                  AND night.id IN (SELECT id FROM night WHERE matrix = ? AND (state = 'complete' OR id IS ?) ORDER BY id DESC LIMIT ?)
                ORDER BY night.id, run.id, metric.rowid
                """, arguments: [metric, matrix, matrix, night, limit]).map { try NightMetric(row: $0) }
        }
    }
}
