import DaxRigProtocol
import Glibc

/// Counts fs_dax:dax_pmd_fault_done by result with a hist trigger, where the kernel
/// has tracing (kernels/configs/tracing.config). A trigger aggregates in the kernel,
/// so a million faults cost no ring-buffer space and none are dropped.
struct DaxTrace {
    static let tracefs = "/sys/kernel/tracing"
    static let event = tracefs + "/events/fs_dax/dax_pmd_fault_done"
    static let trigger = "hist:keys=result"

    /// Arms the trigger; nil when this kernel has no such event or no hist triggers.
    static func start() -> DaxTrace? {
        if !FileIO.exists(event) && FileIO.exists(tracefs) {
            _ = mount("nodev", tracefs, "tracefs", 0, nil)
        }
        guard FileIO.exists(event + "/trigger") else { return nil }
        guard (try? Counters.write(event + "/trigger", trigger)) != nil else { return nil }
        return DaxTrace()
    }

    /// Reads the counts and removes the trigger.
    func stop() -> PmdFaultCounts? {
        let text = try? FileIO.readText(Self.event + "/hist")
        try? Counters.write(Self.event + "/trigger", "!" + Self.trigger)
        return text.map(PmdFaultCounts.init(hist:))
    }
}
