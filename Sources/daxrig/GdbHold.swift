import DaxRig
import DaxRigMachine
import Foundation

/// The terminal's side of `--gdb`: what to attach with, and a crashed guest held until
/// the developer lets it go. The boot engine only calls the hold; reading the
/// developer's Enter is the CLI's.
enum GdbHold {
    /// The attach line, said once before the first boot.
    static func announce(_ debugger: GdbAttach, forRun: Bool) {
        let when = forRun ? "every boot of this run has the stub; one that crashes or times out holds its guest for gdb; " : ""
        let note = (debugger.stub.wait ? "the guest waits for gdb's continue; " : "") + when + "attach with:\n    \(debugger.command)\n"
            + (debugger.hasDebugInfo ? "" : "(this vmlinux has no DWARF: break on symbols, no file:line; kernels/configs/debug-info.config adds it)\n")
        FileHandle.standardError.write(Data(("gdb: " + note).utf8))
    }

    /// Says how the boot ended and, when stdin is a terminal, waits for Enter (a raw
    /// terminal's Return too). Without a terminal nobody can answer (cron, CI, `ssh`
    /// without one): the guest is not held, so a run with --gdb never waits on a pipe
    /// that stays open. Keys typed before the prompt are dropped: an Enter pressed
    /// during the run must not let the crashed guest go unseen. Ctrl-C and a closed
    /// terminal end daxrig as anywhere else.
    static func prompt(command: String) -> @Sendable (BootOutcome) -> Void {
        { outcome in
            guard isatty(STDIN_FILENO) == 1 else {
                FileHandle.standardError.write(Data("daxrig: \(outcome)\ndaxrig: not held for gdb: stdin is not a terminal\n".utf8))
                return
            }
            tcflush(STDIN_FILENO, TCIFLUSH)
            FileHandle.standardError.write(Data("""
                daxrig: \(outcome)
                daxrig: the guest is held for gdb:
                    \(command)
                daxrig: press Enter to destroy it and go on

                """.utf8))
            var byte: UInt8 = 0
            while true {
                let got = read(STDIN_FILENO, &byte, 1)
                if got < 0 && errno == EINTR { continue }
                if got <= 0 || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") { return }
            }
        }
    }
}
