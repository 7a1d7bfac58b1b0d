import DaxRigProtocol
import Glibc

/// The guest's /dev/console (the serial port, ttyS0): where the agent says what went
/// wrong when the results channel cannot, so the reason lands in the host's serial log.
final class Console {
    private let fd: Int32

    /// Opened before devtmpfs is mounted: the initramfs carries its own /dev/console
    /// node (char 5,1) for exactly this.
    init() {
        let console = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC)
        fd = console >= 0 ? console : STDERR_FILENO
    }

    func say(_ text: String) {
        FileIO.writeAll(fd, Array("\(AgentConsoleLine.prefix)\(text)\n".utf8))
    }

    /// The kernel hands init fds 0-2 on /dev/console only if that node existed; with them
    /// closed, the next open() (the channel) would become "stdout". Fill any gap.
    static func ensureStandardDescriptors() {
        for wanted: Int32 in 0...2 where fcntl(wanted, F_GETFD) < 0 {
            var fd = open("/dev/console", O_RDWR | O_NOCTTY)
            if fd < 0 { fd = open("/dev/null", O_RDWR) }
            if fd >= 0 && fd != wanted {
                dup2(fd, wanted)
                close(fd)
            }
        }
    }
}

/// The kernel's log, written through /dev/kmsg: a line there lands on the serial
/// console in order with the kernel's own messages (the host reads case markers from
/// it). Opened per line, so printk's per-opener rate limit never drops one.
enum KernelLog {
    static func mark(_ line: String) {
        let fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        FileIO.writeAll(fd, Array("<6>\(line)\n".utf8))  // KERN_INFO: below the console's loglevel of 7
    }
}
