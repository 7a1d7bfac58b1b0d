/// What the agent writes on the serial console, and the host reads back from the
/// console log: its one line of failure, for a failure the results channel cannot carry
/// (no channel yet, or one the host stopped reading). One format, one place, so the
/// agent's "the host learns of this from the serial log" is true.
public enum AgentConsoleLine {
    /// Every line the agent writes on the console starts so.
    public static let prefix = "daxrig-agent: "

    /// The failure line, without the prefix; a message of several lines goes on after it.
    public static func failure(stage: String, message: String) -> String {
        "FAILED at \(stage): \(message)"
    }

    /// The last failure the agent wrote in `log` (a console log): its stage, and its
    /// message with the lines that followed it up to the next agent or kernel line.
    public static func lastFailure(in log: String) -> (stage: String, message: String)? {
        let marker = prefix + "FAILED at "
        // A serial console ends its lines with "\r\n" (the tty's ONLCR): one Character.
        let lines = log.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        guard let index = lines.lastIndex(where: { $0.hasPrefix(marker) }) else { return nil }
        let rest = lines[index].dropFirst(marker.count)
        guard let colon = rest.firstRange(of: ": ") else { return nil }
        let stage = String(rest[..<colon.lowerBound])
        guard !stage.isEmpty, !stage.contains(" ") else { return nil }
        var message = [String(rest[colon.upperBound...])]
        for line in lines[(index + 1)...].prefix(40) {
            // printk's lines start with a timestamp; the agent's own with its prefix.
            if line.hasPrefix(prefix) || line.hasPrefix("[") { break }
            message.append(String(line))
        }
        while message.count > 1, message.last?.allSatisfy(\.isWhitespace) == true { message.removeLast() }
        return (stage, String(message.joined(separator: "\n").drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed()))
    }
}
