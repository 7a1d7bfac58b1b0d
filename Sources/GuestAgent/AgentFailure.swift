/// Something the agent itself could not do. `stage` names the part of the boot that
/// failed ("mount", "channel", "plan", "pmem", "command", "shutdown") so the host can
/// tell a broken guest setup from a failing workload; `message` says what to fix.
struct AgentFailure: Error, CustomStringConvertible {
    var stage: String
    var message: String

    init(_ stage: String, _ message: String) {
        self.stage = stage
        self.message = message
    }

    var description: String { "\(stage): \(message)" }
}

/// Runs `body`, filing any failure under `stage`: helpers like FileIO say "io", but the
/// host wants to know which part of the boot it broke.
func staged<T>(_ stage: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let failure as AgentFailure {
        throw AgentFailure(stage, failure.message)
    }
}
