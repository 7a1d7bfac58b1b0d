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
/// other way from `AgentMessage`): keystrokes for the terminal, and its new size; and
/// `proceed`, the answer to `pmemFormatted` once the host has its copy.
public enum HostMessage: Codable, Sendable, Equatable {
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
}
