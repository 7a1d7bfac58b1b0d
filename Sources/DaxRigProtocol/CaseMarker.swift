/// The lines the agent writes to the kernel log (/dev/kmsg) as each case of a boot
/// begins and after the last one, so the host can tell which kernel reports were
/// printed while which case ran (the host's ConsoleSections reads them).
public enum CaseMarker {
    public static let begins = "daxrig: case begins: "
    public static let end = "daxrig: cases end"

    /// The line for the case `name` (newlines dropped: one marker is one line).
    public static func beginning(_ name: String) -> String {
        begins + name.filter { !$0.isNewline }
    }
}
