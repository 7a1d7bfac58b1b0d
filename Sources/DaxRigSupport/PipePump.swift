import Foundation

/// A child's standard streams, moved on the thread that waits for it: its output and
/// errors read, its input written, all three in one poll loop until both outputs end.
///
/// Not on libdispatch's global queue: on Linux its threads number a couple per CPU and
/// grow by about one a second, so with two CPUs a few long commands (a kernel build)
/// held all of them, and every other command's child stopped at a full pipe until they
/// were done (CI, 2026-12-06: a `daxrig doctor` that exits at once took 130 s).
/// Input and output in one loop: a child that prints more than a pipe holds before it
/// reads its input would wait forever on a writer that sends all the input first.
enum PipePump {
    struct Input {
        var descriptor: Int32
        var bytes: [UInt8]
        /// Closes the input once it is all written (or the child stopped reading it),
        /// through whoever owns the descriptor.
        var close: () -> Void
    }

    static func run(output: Int32, error: Int32, input: Input?, into collected: LineCollector) {
        var open: [(fd: Int32, stream: Command.Stream)] = [(output, .standardOutput), (error, .standardError)]
        var pending = input
        var written = 0
        if let descriptor = pending?.descriptor {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        }
        if pending?.bytes.isEmpty == true { pending?.close(); pending = nil }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !open.isEmpty || pending != nil {
            var fds = open.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            if let pending { fds.append(pollfd(fd: pending.descriptor, events: Int16(POLLOUT), revents: 0)) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                // Cannot happen with our own descriptors; end rather than spin or hang.
                pending?.close()
                for entry in open { collected.finish(entry.stream) }
                return
            }
            if let current = pending, let ready = fds.last, ready.revents != 0 {
                var failure: Int32 = 0
                if ready.revents & Int16(POLLOUT) != 0 && ready.revents & Int16(POLLERR | POLLNVAL) == 0 {
                    switch writeWithoutSIGPIPE(current.descriptor, current.bytes, from: written) {
                    case .success(let count):
                        written += count
                        if written == current.bytes.count { current.close(); pending = nil }
                    case .failure(let error): failure = error.code
                    }
                } else {
                    failure = EPIPE
                }
                if failure != 0 && failure != EAGAIN && failure != EINTR {
                    // The child closed its input: what it did not read is not ours to force on it.
                    current.close(); pending = nil
                }
            }
            var ended: [Int32] = []
            for (index, entry) in open.enumerated() where fds[index].revents != 0 {
                let count = read(entry.fd, &buffer, buffer.count)
                if count > 0 {
                    collected.append(Data(buffer[0..<count]), entry.stream)
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    collected.finish(entry.stream)
                    ended.append(entry.fd)
                }
            }
            open.removeAll { ended.contains($0.fd) }
        }
    }

    /// One write to a pipe whose reader may be gone, with SIGPIPE held off this thread
    /// alone (daxrig and its tests keep SIGPIPE's default) and taken back if it came:
    /// the bytes written, or the write's errno.
    private static func writeWithoutSIGPIPE(_ fd: Int32, _ bytes: [UInt8], from offset: Int) -> Result<Int, Errno> {
        var pipeSignal = sigset_t(), previous = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        let code = errno
        if count < 0 && code == EPIPE {
            var zero = timespec()
            _ = sigtimedwait(&pipeSignal, nil, &zero)
        }
        return count < 0 ? .failure(Errno(code)) : .success(count)
    }

    struct Errno: Error { var code: Int32; init(_ code: Int32) { self.code = code } }
}
