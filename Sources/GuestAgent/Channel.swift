import DaxRigProtocol
import FoundationEssentials
import Glibc

/// The virtio-serial port the host reads AgentMessage lines from.
///
/// A port whose host side is not connected blocks writers forever (virtio_console's
/// will_write_block), which would hang the guest; so every write first polls for
/// POLLOUT, and a channel that stays unwritable for `writeTimeout` seconds is
/// declared lost: later messages go to the console instead, and the agent carries on
/// towards power-off.
final class Channel {
    /// Where the kernel lists virtio-serial ports; each has a `name` file.
    static let portsDirectory = "/sys/class/virtio-ports"

    private let fd: Int32
    /// The port's descriptor, for a reader of the host's messages (TerminalSession).
    var fileDescriptor: Int32 { fd }
    private let console: Console
    private let writeTimeout: Double
    private(set) var lost = false

    private init(fd: Int32, console: Console, writeTimeout: Double) {
        self.fd = fd
        self.console = console
        self.writeTimeout = writeTimeout
    }

    /// Finds the port named `name` and opens its /dev node. Ports are announced by the
    /// host after the driver probes, so they can show up a little after init starts:
    /// keep looking for `wait` seconds.
    static func open(name: String = AgentMessage.channelName, console: Console,
                     wait: Double, writeTimeout: Double = 60) throws -> Channel {
        let deadline = Clock.now() + wait
        var seen: [String] = []
        while true {
            seen = []
            for port in FileIO.listDirectory(portsDirectory) {
                let portName = (try? FileIO.readText("\(portsDirectory)/\(port)/name"))?
                    .trimmedWhitespace ?? ""
                seen.append("\(port)=\(portName.isEmpty ? "(unnamed)" : portName)")
                guard portName == name else { continue }
                let path = "/dev/\(port)"
                let fd = Glibc.open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
                if fd >= 0 { return Channel(fd: fd, console: console, writeTimeout: writeTimeout) }
                if Clock.now() > deadline {
                    throw AgentFailure("channel", "cannot open \(path) (port \(name)): \(errnoText())")
                }
            }
            if Clock.now() > deadline { break }
            Clock.sleep(seconds: 0.05)
        }
        throw AgentFailure("channel", "no virtio-serial port named \(name) after \(Int(wait)) s "
            + "(ports: \(seen.isEmpty ? "none" : seen.joined(separator: ", "))); the domain needs a "
            + "<channel> with <target type='virtio' name='\(name)'/> and the kernel CONFIG_VIRTIO_CONSOLE=y")
    }

    /// Sends one message; never throws, because every failure path of the agent ends in
    /// a message too. A lost channel falls back to the console.
    func send(_ message: AgentMessage) {
        let line: [UInt8]
        do {
            line = Array(try message.encodedLine())
        } catch {
            console.say("cannot encode \(message): \(error)")
            return
        }
        if !lost && !deliver(line) {
            lost = true
            console.say("results channel \(AgentMessage.channelName) stopped taking data "
                + "(host not connected or not reading for \(Int(writeTimeout)) s); messages follow here")
        }
        if lost { console.say(String(decoding: line.dropLast(), as: UTF8.self)) }
    }

    private func deliver(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        var deadline = Clock.now() + writeTimeout
        while offset < bytes.count {
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&poller, 1, 100)
            if ready < 0 && errno != EINTR { return false }
            if ready <= 0 || poller.revents & Int16(POLLOUT) == 0 {
                if Clock.now() > deadline { return false }
                // With the host side closed poll returns POLLHUP at once: don't spin.
                if poller.revents & Int16(POLLHUP) != 0 { Clock.sleep(seconds: 0.05) }
                continue
            }
            // virtio_console takes at most 32 KiB per write: loop over short writes.
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return false
            }
            offset += count
            deadline = Clock.now() + writeTimeout
        }
        return true
    }

    /// The host's next byte, waiting until `deadline`; nil when it passes first. One
    /// byte per readiness, so what follows stays in the port for the next reader, and a
    /// host that stops mid-line cannot hold a reader past its deadline.
    private func nextByte(until deadline: Double) throws -> UInt8? {
        var byte: UInt8 = 0
        while Clock.now() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 100)
            if ready < 0 && errno != EINTR { throw AgentFailure("channel", "poll: \(errnoText())") }
            if ready <= 0 { continue }
            // POLLHUP alone: the host side is not connected (yet); readable with 0 bytes:
            // it closed. poll says either at once, every time: wait instead of spinning.
            guard poller.revents & Int16(POLLIN) != 0, read(fd, &byte, 1) == 1 else {
                Clock.sleep(seconds: 0.05)
                continue
            }
            return byte
        }
        return nil
    }

    /// The host's next line (without its newline); nil when `timeout` seconds pass
    /// first. A line past `limit` bytes is a host that floods, and fails.
    func receiveLine(timeout: Double, limit: Int = 16 << 20) throws -> [UInt8]? {
        let deadline = Clock.now() + timeout
        var line: [UInt8] = []
        while let byte = try nextByte(until: deadline) {
            if byte == UInt8(ascii: "\n") { return line }
            line.append(byte)
            if line.count > limit { throw AgentFailure("channel", "the host sent a line of more than \(limit) bytes") }
        }
        return nil
    }

    /// Waits for the host's `proceed` (the answer to `pmemFormatted`); false when
    /// `timeout` seconds pass first or the channel is lost. Other lines are dropped:
    /// nothing else is sent at this stage (a shell's keystrokes would be, so a shell
    /// boot never asks for a template).
    func awaitProceed(timeout: Double) -> Bool {
        guard !lost else { return false }
        let deadline = Clock.now() + timeout
        var line: [UInt8] = []
        while let byte = try? nextByte(until: deadline) {
            guard byte == UInt8(ascii: "\n") else {
                line.append(byte)
                if line.count > 65536 { line.removeAll() }  // a host that floods: bounded
                continue
            }
            if (try? HostMessage.decode(line: line)) == .proceed { return true }
            line.removeAll()
        }
        return false
    }
}
