import DaxRigProtocol
import GuestCore
import Glibc

/// The record a dying worker's handler writes to. Set once in the forked child before
/// the handler is installed; a worker has one thread, so nothing else touches it.
nonisolated(unsafe) private var fatalRecord: UnsafeMutablePointer<UInt64>?
/// The worker the record is for: a child a stress op forks inherits the handler, and
/// its death (some ops' children are meant to fault) is not the worker's.
nonisolated(unsafe) private var fatalOwner: pid_t = 0

/// A worker that a fault or a trap kills leaves the signal's code and address in its
/// record before it dies: "killed by signal 7" alone cannot tell a SIGBUS the kernel
/// returned from a DAX fault (a kernel bug, or a file the fault could not map) from a
/// trap in the rig's own code, and the kernel logs neither.
enum FatalSignals {
    static let watched: [Int32] = [SIGBUS, SIGSEGV, SIGILL, SIGTRAP, SIGFPE]

    /// Installs the recorder for every watched signal; `record` is the worker's.
    static func install(record: UnsafeMutablePointer<UInt64>) {
        fatalRecord = record
        fatalOwner = getpid()
        for signo in watched { install(signo) }
    }

    /// One signal's recorder (again after a probe borrowed the signal).
    static func install(_ signo: Int32) {
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = { signo, info, _ in
            if let words = fatalRecord, let info, getpid() == fatalOwner {
                words[Worker.Slot.fatalSignal.rawValue] = UInt64(UInt32(bitPattern: signo))
                words[Worker.Slot.fatalCode.rawValue] = UInt64(UInt32(bitPattern: info.pointee.si_code))
                words[Worker.Slot.fatalAddress.rawValue] = UInt64(UInt(bitPattern: info.pointee._sifields._sigfault.si_addr))
            }
            // SA_RESETHAND made the action the default again: the signal raised here
            // is pending until the handler returns, then ends the worker with the
            // status it would have had without the handler (a fault would also repeat).
            raise(signo)
        }
        action.sa_flags = SA_SIGINFO | Int32(bitPattern: UInt32(SA_RESETHAND))
        sigemptyset(&action.sa_mask)
        sigaction(signo, &action, nil)
    }

}
