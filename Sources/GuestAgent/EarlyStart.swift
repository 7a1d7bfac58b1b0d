import Glibc

/// Runs before the Swift runtime's own static initializers (a numbered .init_array
/// slot sorts ahead of the unnumbered ones), because a static Swift executable
/// started without /proc mounted (the guest's PID 1, or a chroot on the host) is
/// otherwise broken before main:
///
/// - The runtime's backtracer setup looks for the swift-backtrace helper next to
///   "the runtime", which a static executable finds only through /proc/self/exe;
///   without /proc it aborts with "Unable to obtain Swift runtime path". As PID 1
///   that kills init (a kernel panic) on every boot. Naming a backtracer path up
///   front makes the runtime skip the lookup; backtraces would need a swift-backtrace
///   binary the image does not have anyway.
/// - CommandLine.arguments comes from /proc/self/cmdline and is empty; glibc passes
///   argc/argv to .init_array functions, so they are kept here instead.
/// - The first Dictionary or Set seeds Swift's Hasher with getrandom(2), which blocks
///   until the kernel's CRNG is initialized: about one second after init starts in a
///   TCG guest without a hardware RNG. PID 1 hashes nothing secret, so it takes the
///   fixed seed (SWIFT_DETERMINISTIC_HASHING) and starts at once.
@used @section(".init_array.00101")
let beforeSwiftRuntime: @convention(c) (Int32, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                        UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Void = earlyStart

nonisolated(unsafe) private var startArgumentCount: Int32 = 0
nonisolated(unsafe) private var startArguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil

private func earlyStart(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                        _ envp: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) {
    // Only C calls and static strings here: the Swift runtime is not set up yet.
    if access(("/proc/self/exe" as StaticString).utf8Start, F_OK) != 0 {
        setenv(("SWIFT_BACKTRACE" as StaticString).utf8Start, ("enable=no,swift-backtrace=/" as StaticString).utf8Start, 0)
    }
    if getpid() == 1 {
        setenv(("SWIFT_DETERMINISTIC_HASHING" as StaticString).utf8Start, ("1" as StaticString).utf8Start, 0)
    }
    startArgumentCount = argc
    startArguments = argv
}

enum EarlyStart {
    /// argv as the kernel or exec gave it, /proc or not.
    static var arguments: [String] {
        guard let argv = startArguments else { return CommandLine.arguments }
        return (0..<Int(startArgumentCount)).compactMap { argv[$0].map { String(cString: $0) } }
    }
}
