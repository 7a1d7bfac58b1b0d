/// How a worker died of a signal, as its own handler saw it: a SIGBUS the kernel
/// returned from a DAX fault and a Swift trap both end a worker with "killed by
/// signal", and only the code and the address tell them apart (the kernel logs
/// neither: x86 prints nothing for a SIGBUS, and the console scanner ignores
/// user-space `segfault at` lines).
public struct FatalSignal: Codable, Sendable, Equatable, CustomStringConvertible {
    public var signal: Int32
    /// siginfo's si_code: BUS_ADRERR (2) for a fault the kernel refused, SEGV_ACCERR
    /// (2) for a store to a read-only page, SI_USER (0) for a kill from a process.
    public var code: Int32
    /// siginfo's si_addr: the faulting address (0 for a signal that was sent).
    public var address: UInt64
    /// How many of its barriers the worker had passed: 0 before the control
    /// snapshot, 1 while it mapped and faulted the file (between the control and the
    /// mapped snapshot), more in its work after.
    public var barriersPassed: Int

    public init(signal: Int32, code: Int32, address: UInt64, barriersPassed: Int) {
        self.signal = signal
        self.code = code
        self.address = address
        self.barriersPassed = barriersPassed
    }

    /// The names the kernel's siginfo.h gives the codes that matter here.
    public var codeName: String {
        switch (signal, code) {
        case (_, 0): "SI_USER"
        case (_, -6): "SI_TKILL"
        case (7, 1): "BUS_ADRALN"
        case (7, 2): "BUS_ADRERR"
        case (7, 3): "BUS_OBJERR"
        case (7, 4): "BUS_MCEERR_AR"
        case (7, 5): "BUS_MCEERR_AO"
        case (11, 1): "SEGV_MAPERR"
        case (11, 2): "SEGV_ACCERR"
        case (11, 4): "SEGV_PKUERR"
        case (4, 2): "ILL_ILLOPN"
        case (4, 7): "ILL_PRVOPC"
        case (5, 1): "TRAP_BRKPT"
        case (5, 2): "TRAP_TRACE"
        default: "code \(code)"
        }
    }

    public var description: String {
        "\(codeName) at 0x\(String(address, radix: 16)), after \(barriersPassed) barrier\(barriersPassed == 1 ? "" : "s")"
    }
}
