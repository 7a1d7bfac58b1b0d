#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The terminal a plan's command runs on (`daxrig boot --shell`): a pty in the guest,
/// sized as the host's terminal, so a shell, an editor or `less` behave as at home.
public struct TerminalSpec: Codable, Sendable, Equatable {
    public var rows: UInt16
    public var columns: UInt16
    /// The host terminal's $TERM.
    public var term: String

    public init(rows: UInt16, columns: UInt16, term: String) {
        self.rows = rows
        self.columns = columns
        self.term = term
    }
}

/// What the host says to the agent, one JSON line each, on the agent's channel (the
/// other way from `AgentMessage`): first the boot's plan, with fresh random bytes for
/// the guest's CRNG; then keystrokes for the terminal, and its new size; and `proceed`,
/// the answer to `pmemFormatted` once the host has its copy.
public enum HostMessage: Codable, Sendable, Equatable {
    case plan(GuestPlan, seed: Data)
    case input(Data)
    case resize(rows: UInt16, columns: UInt16)
    case proceed

    public func encodedLine() throws -> Data {
        var data = try JSONEncoder().encode(self)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    public static func decode(line: some Collection<UInt8>) throws -> HostMessage {
        try JSONDecoder().decode(HostMessage.self, from: Data(line))
    }

    /// `plan` with `GuestPlan.entropySeedBytes` bytes new for this boot: two boots never
    /// start their CRNGs from the same bytes.
    public static func plan(_ plan: GuestPlan) -> HostMessage {
        var generator = SystemRandomNumberGenerator()
        return .plan(plan, seed: Data((0..<GuestPlan.entropySeedBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }))
    }
}
