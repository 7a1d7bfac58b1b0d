/// Kernel log lines both sides look for: the host's console scanner and the guest's
/// watch of /dev/kmsg match the same texts, so the two cannot drift apart.
public enum KernelMessages {
    /// The OOM killer's kill line, in each form 6.1's mm/oom_kill.c prints it.
    public static let oomKills = [
        "Out of memory: Killed process",
        "Out of memory (oom_kill_allocating_task): Killed process",
        "Memory cgroup out of memory: Killed process",
    ]

    /// The kill line of a /dev/kmsg record ("level,seq,usec,flags;text", continuation
    /// lines after it), if the record is an OOM kill.
    public static func oomKill(inRecord record: String) -> String? {
        guard let body = record.split(separator: ";", maxSplits: 1).dropFirst().first else { return nil }
        let line = body.prefix { $0 != "\n" }
        return oomKills.contains { line.hasPrefix($0) } ? String(line) : nil
    }
}
