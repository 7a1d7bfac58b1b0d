/// One phase of a boot and how long it took: what a slow boot spent its time on, and
/// what the boot itself cost beside the command (`isBoot`).
public struct BootPhase: Codable, Sendable, Equatable {
    public enum Name: String, Codable, Sendable {
        /// The run's files: pmem backing files (a template's copy), the initrd. Apart
        /// from `start`, so that one is libvirt's own cost (benchmarks/boot.sh).
        case prepare
        /// libvirt's connection, define and start.
        case start
        /// From the domain's start to the agent's hello.
        case kernel
        /// The namespace, mkfs and mount.
        case pmem
        /// The plan's command.
        case command
        /// A crashed guest held for gdb until the developer let it go (`--gdb`).
        case held
        /// Power-off and the domain's end.
        case teardown

        /// Part of getting a guest to run the command, not the command or its end.
        public var isBoot: Bool { self == .prepare || self == .start || self == .kernel || self == .pmem }
    }

    public var name: Name
    public var seconds: Double

    public init(_ name: Name, seconds: Double) {
        self.name = name
        self.seconds = seconds
    }
}
