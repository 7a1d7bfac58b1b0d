import DaxRigProtocol
import Glibc

/// The agent's only way out. libvirt sees the power-off and ends the domain, which is
/// how the host knows the run is over.
enum PowerOff {
    /// `abrupt`: as a power failure, no sync and no unmount (GuestPlan.abruptPowerOff).
    static func now(channel: Channel?, console: Console, abrupt: Bool = false) -> Never {
        let started = Clock.now()
        // Leftover workers would keep the pmem mount busy.
        ChildProcess.terminateAll()
        if abrupt {
            // The reboot(2) system call itself syncs nothing: what is not on pmem yet is lost.
            channel?.send(.step(name: "shutdown", detail: "processes ended; abrupt: not synced, nothing unmounted",
                                seconds: Clock.now() - started))
            finish(channel: channel, console: console)
        }
        sync()
        // Every pmem file system, whoever mounted it (the agent, or a workload) and even
        // if the DAX check failed after mounting: a clean unmount is what the next boot
        // on the same backing file (reuse) finds.
        var details: [String] = []
        // Shares too: what the guest wrote there reaches the host before the domain ends.
        for entry in Mounts.table().reversed()
        where entry.source.hasPrefix("/dev/pmem") || ShareMount.Transport.allCases.contains(where: { $0.fileSystemType == entry.type }) {
            details.append(Mounts.unmount(entry.mountPoint))
        }
        sync()
        channel?.send(.step(name: "shutdown", detail: (["processes ended", "synced"] + details).joined(separator: "; "),
                            seconds: Clock.now() - started))
        finish(channel: channel, console: console)
    }

    private static func finish(channel: Channel?, console: Console) -> Never {
        channel?.send(.poweringOff)
        // Under KVM the host reads the port on another thread than the one that acts on
        // the power-off: give it a moment to drain what was just written.
        Clock.sleep(seconds: 0.2)
        _ = SystemCalls.reboot(SystemCalls.powerOffCommand)
        console.say("power off refused: \(errnoText()); halting instead")
        _ = SystemCalls.reboot(SystemCalls.haltCommand)
        console.say("halt refused: \(errnoText()); waiting for the host to end the domain")
        while true { pause() }
    }
}
