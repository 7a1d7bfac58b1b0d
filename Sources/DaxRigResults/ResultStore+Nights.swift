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

    init(row: Row) {
        id = row["id"]
        started = row["started"]
        finished = row["finished"]
        state = RunState(stored: row["state"])
        matrix = row["matrix"]
        matrixPath = row["matrixPath"]
        baseline = row["baseline"]
        exitStatus = row["exitStatus"]
        summary = row["summary"]
    }
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
            try db.execute(sql: "INSERT INTO night (started, state, matrix, matrixPath, matrixHash) VALUES (?, 'incomplete', ?, ?, ?)",
                           arguments: [Self.timestamp(Date()), matrix, path, matrixHash])
            return db.lastInsertedRowID
        }
    }

    /// Marks a night complete with what it was compared with and its verdict.
    public func finishNight(_ id: Int64, baseline: Int64?, exitStatus: ExitStatus, summary: Data) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE night SET state = 'complete', finished = ?, baseline = ?, exitStatus = ?, summary = ? WHERE id = ?",
                           arguments: [Self.timestamp(Date()), baseline, exitStatus.rawValue, String(decoding: summary, as: UTF8.self), id])
        }
    }

    public func night(_ id: Int64) throws -> StoredNight? {
        try database.read { db in try Row.fetchOne(db, sql: "SELECT * FROM night WHERE id = ?", arguments: [id]).map(StoredNight.init(row:)) }
    }

    /// The newest complete night of the same matrix before `id`: what tonight is compared with.
    public func lastCompleteNight(matrix: String, before id: Int64) throws -> StoredNight? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM night WHERE matrix = ? AND state = 'complete' AND id < ? ORDER BY id DESC LIMIT 1",
                             arguments: [matrix, id]).map(StoredNight.init(row:))
        }
    }

    /// Nights, newest first.
    public func nights(limit: Int = 50) throws -> [StoredNight] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM night ORDER BY id DESC LIMIT ?", arguments: [limit]).map(StoredNight.init(row:))
        }
    }

    /// The runs of a night in the order they ran, re-runs included.
    public func runs(night: Int64) throws -> [StoredRun] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM run WHERE night = ? ORDER BY id", arguments: [night]).map(StoredRun.init(row:))
        }
    }

    /// A metric's value in each of the last `limit` complete nights of `matrix` (and in
    /// `including`, tonight's, before it is marked complete), first runs only: re-runs
    /// would put one night's point on the chart several times.
    public func history(metric: String, matrix: String, including night: Int64? = nil, limit: Int = 30) throws -> [NightMetric] {
        try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT night.id AS night, night.started AS started, run.cell AS cell, run.spec AS spec,
                       metric.test AS test, metric.value AS value, metric.unit AS unit
                FROM metric JOIN run ON metric.runId = run.id JOIN night ON run.night = night.id
                WHERE metric.name = ? AND night.matrix = ? AND run.rerunOf IS NULL AND run.state = 'complete'
                  AND night.id IN (SELECT id FROM night WHERE matrix = ? AND (state = 'complete' OR id IS ?) ORDER BY id DESC LIMIT ?)
                ORDER BY night.id, run.id, metric.rowid
                """, arguments: [metric, matrix, matrix, night, limit]).map { row in
                NightMetric(night: row["night"], started: row["started"], cell: row["cell"] ?? "", spec: row["spec"],
                            test: row["test"], value: row["value"], unit: row["unit"])
            }
        }
    }
}
