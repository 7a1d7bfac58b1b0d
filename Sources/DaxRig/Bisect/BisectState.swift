import Foundation

/// One tested commit: how it built, how its runs went, and what bisect was told.
public struct BisectStep: Sendable, Codable, Equatable {
    public enum Verdict: String, Sendable, Codable {
        case good, bad
        /// Does not build, or its patches do not apply: git bisect skip.
        case skip
    }

    public var commit: String
    public var subject: String
    /// "endpoint" for the good and bad refs checked first, else "bisect".
    public var role: String
    public var verdict: Verdict
    public var detail: String
    /// Seconds the build took, nil for a cache hit.
    public var buildSeconds: Double?
    public var cacheHit: Bool
    public var buildLog: String?
    /// Runs of the spec: how many were good and bad (infrastructure retries aside).
    public var goodRuns: Int
    public var badRuns: Int
    public var bootSeconds: Double?
    public var keyMetric: Double?
    /// The stored runs of this step (results store ids).
    public var runIDs: [Int64]
    /// The whole step: build, boots and judging.
    public var seconds: Double?
}

/// Everything a bisect needs to carry on after an interruption, kept as JSON in its
/// directory: what was asked, and every step done. git's own bisect state lives in the
/// bisect's repository beside it.
public struct BisectState: Sendable, Codable {
    public var repository: String
    public var good: String
    public var bad: String
    public var goodCommit: String
    public var badCommit: String
    public var specPath: String
    public var specText: String
    public var oracle: BisectOracle
    public var runs: Int
    public var patches: String?
    public var base: String
    public var fragments: [String]
    public var assignments: [String]
    public var store: String
    public var started: Date
    public var steps: [BisectStep]
    /// Set when bisect is done: the first bad commit, or the candidates skips left.
    public var firstBad: String?
    public var candidates: [String]?

    /// The files every step reads again, named for an error when one is gone (the
    /// spec is kept as text and the store is made anew, so neither is here).
    public var inputPaths: [(what: String, path: String)] {
        (patches.map { [("patch series", $0)] } ?? [])
            + fragments.map { ("config fragment", $0) }
            + (base == "tinyconfig" || base == "defconfig" ? [] : [("base config", base)])
    }
}
