import Foundation
import DaxRigSupport

/// A size, count or time a user asked a boot for that the rig cannot honour. Bad input
/// (exit 2), named by the option or spec key it came from, before anything is built or
/// created: not an arithmetic trap (`--timeout nan`, `--pmem 8388608T`), and not an
/// infrastructure failure carrying libvirt's words ("Failed to parse bitmap '0--1'").
public struct BootLimitError: RigError, Equatable {
    /// What the user can fix: exit 2.
    public var exitStatus: ExitStatus { .badInput }

    /// The option or spec key, e.g. `--cpus`.
    public var input: String
    public var value: String
    /// What it takes instead.
    public var allowed: String

    public var description: String { "\(input) \(value): \(allowed)" }
}

/// What one boot can be given, and why those bounds.
public enum BootLimits {
    /// QEMU's pc machine takes at most 255 vCPUs; none is no machine.
    public static let vcpus = 1...255
    /// Below 128 MiB the kernel and the 26 MB initramfs do not fit.
    public static let minimumMemoryMiB = 128
    /// The nvdimm's namespace and label area need a few MiB; QEMU maps the whole backing
    /// file into its 47-bit address space, and libvirt counts the size in KiB: 64 TiB is
    /// well inside both.
    public static let pmemBytes: ClosedRange<UInt64> = (16 << 20)...(64 << 40)
    /// Seconds: finite, and at most a week (a boot's deadline is a Date, and the wait
    /// for the agent is polled in milliseconds).
    public static let timeoutSeconds: ClosedRange<Double> = 1...(7 * 86_400)

    public static func check(vcpus count: Int, input: String = "--cpus") throws {
        guard vcpus.contains(count) else {
            throw BootLimitError(input: input, value: "\(count)", allowed: "takes \(vcpus.lowerBound) to \(vcpus.upperBound) vCPUs")
        }
    }

    /// Guest memory: at least the minimum, at most this host's memory (a guest larger
    /// than the host is refused by QEMU at start, or swaps the host to a halt).
    public static func check(memoryBytes bytes: UInt64, input: String = "--memory",
                             host: UInt64 = ProcessInfo.processInfo.physicalMemory) throws {
        guard bytes >= UInt64(minimumMemoryMiB) << 20, bytes <= host else {
            throw BootLimitError(input: input, value: ByteSize.format(bytes),
                                 allowed: "takes \(minimumMemoryMiB) MiB to this host's \(ByteSize.format(host))")
        }
    }

    public static func check(pmemBytes bytes: UInt64, input: String = "--pmem") throws {
        guard pmemBytes.contains(bytes) else {
            throw BootLimitError(input: input, value: ByteSize.format(bytes),
                                 allowed: "takes \(ByteSize.format(pmemBytes.lowerBound)) to \(ByteSize.format(pmemBytes.upperBound)) per nvdimm")
        }
    }

    public static func check(timeout seconds: Double, input: String = "--timeout") throws {
        guard seconds.isFinite, timeoutSeconds.contains(seconds) else {
            throw BootLimitError(input: input, value: "\(seconds)",
                                 allowed: "takes \(Int(timeoutSeconds.lowerBound)) to \(Int(timeoutSeconds.upperBound)) seconds (a week)")
        }
    }

    /// The kernel holds the initramfs twice while it unpacks it (the archive, and its
    /// files in the rootfs): additions past half of what the minimum (kernel and image)
    /// leaves end as an out-of-memory panic before the agent starts, which says nothing
    /// of what was added.
    public static func check(additionBytes bytes: UInt64, memoryMiB: Int, input: String = "--add") throws {
        let room = UInt64(max(0, memoryMiB - minimumMemoryMiB)) << 20 / 2
        guard bytes <= room else {
            throw BootLimitError(input: input, value: "(\(bytes >> 20) MiB of additions)",
                                 allowed: "takes at most \(room >> 20) MiB with --memory \(memoryMiB)M: add less, or give more --memory")
        }
    }

    /// Every bound a request must keep; GuestRunner checks before it creates anything.
    public static func check(_ request: BootRequest) throws {
        try check(vcpus: request.vcpus)
        let (memory, overflow) = UInt64(max(0, request.memoryMiB)).multipliedReportingOverflow(by: 1 << 20)
        try check(memoryBytes: overflow ? .max : memory)
        for size in request.pmemSizes { try check(pmemBytes: size) }
        try check(timeout: request.timeout)
    }
}
