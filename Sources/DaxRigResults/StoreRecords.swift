import GRDB

/// The store's rows as GRDB records. A column is named once, by the property (coding
/// key) of the type that holds it: GRDB reads a row into the type and writes the type
/// into a row by those keys, so the reads no longer list columns by hand (they did,
/// one `row["..."]` per column, beside the INSERTs that listed them again).
///
/// Reading stays lenient where a newer daxrig may have written what this one does not
/// know: a state reads as incomplete (`RunState`), a status as ERROR (`TestStatus`), so
/// one strange row never refuses a whole listing.
extension StoredRun: FetchableRecord, TableRecord {
    public static let databaseTableName = "run"

    /// The columns the store's queries filter and sort on.
    public enum Columns {
        public static let id = Column("id")
        public static let state = Column("state")
        public static let status = Column("status")
        public static let started = Column("started")
        public static let finished = Column("finished")
        public static let seconds = Column("seconds")
        public static let night = Column("night")
    }
}

extension StoredNight: FetchableRecord, TableRecord {
    public static let databaseTableName = "night"

    public enum Columns {
        public static let id = Column("id")
        public static let state = Column("state")
        public static let finished = Column("finished")
        public static let matrix = Column("matrix")
        public static let baseline = Column("baseline")
        public static let exitStatus = Column("exitStatus")
        public static let summary = Column("summary")
    }
}

extension NightMetric: FetchableRecord {}

/// A run's inputs are the columns of its row when it begins.
extension RunInputs: EncodableRecord {}

/// A run's row as `begin` inserts it: the inputs, started now, incomplete.
struct BegunRun: PersistableRecord {
    static let databaseTableName = StoredRun.databaseTableName
    var inputs: RunInputs
    var started: String

    func encode(to container: inout PersistenceContainer) throws {
        try inputs.encode(to: &container)
        container[StoredRun.Columns.started] = started
        container[StoredRun.Columns.state] = RunState.incomplete.rawValue
    }
}

/// A night's row as `beginNight` inserts it.
struct BegunNight: Encodable, PersistableRecord {
    static let databaseTableName = StoredNight.databaseTableName
    var started: String
    var state = RunState.incomplete
    var matrix: String
    var matrixPath: String
    var matrixHash: String?
}

/// What a run measured, one table each, every row tied to its run by `runId`.
protocol RunChildRecord: Codable, FetchableRecord, EncodableRecord, TableRecord {}

extension TestRecord: RunChildRecord { public static let databaseTableName = "test" }
extension MetricRecord: RunChildRecord { public static let databaseTableName = "metric" }
extension WorkloadRecord: RunChildRecord { public static let databaseTableName = "workload" }
extension StoredRunReport.Artifact: RunChildRecord { public static let databaseTableName = "artifact" }

/// A child record with the run it belongs to, as it is inserted.
struct OfRun<Child: RunChildRecord>: PersistableRecord {
    static var databaseTableName: String { Child.databaseTableName }
    static var runId: Column { Column("runId") }
    var run: Int64
    var child: Child

    func encode(to container: inout PersistenceContainer) throws {
        try child.encode(to: &container)
        container[Self.runId] = run
    }

    /// A run's rows of this table in the order they were stored.
    static func all(of run: Int64, in db: Database) throws -> [Child] {
        try Child.filter(runId == run).order(Column.rowID).fetchAll(db)
    }
}
