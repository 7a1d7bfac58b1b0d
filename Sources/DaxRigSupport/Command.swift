import Foundation

/// One external program to run: the kernel's make, git, tar, the guest tools' ldd.
///
/// daxrig drives many host tools; every one goes through here so that a missing
/// tool always names the Debian package to install, and a failure always carries
/// the command line and the tail of what it printed.
public struct Command: Sendable, CustomStringConvertible {
    public var executable: String
    public var arguments: [String]
    /// Added to (and overriding) daxrig's own environment.
    public var environment: [String: String]
    public var directory: String?

    public init(_ executable: String, _ arguments: [String] = [], environment: [String: String] = [:], directory: String? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.directory = directory
    }

    public var description: String {
        ([executable] + arguments).map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
    }

    public enum Stream: Sendable { case standardOutput, standardError }

    public struct Output: Sendable {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
    }

    /// Runs to completion and returns everything it printed; throws unless it exits 0.
    @discardableResult
    public func run(input: String? = nil) throws -> Output {
        let output = try runAllowingFailure(input: input)
        guard output.status == 0 else {
            throw CommandError.failed(command: description, status: output.status,
                                      output: Self.tail(output.standardError.isEmpty ? output.standardOutput : output.standardError))
        }
        return output
    }

    /// Runs to completion; a non-zero exit is returned, not thrown.
    public func runAllowingFailure(input: String? = nil, onLine: (@Sendable (String, Stream) -> Void)? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.locate(executable))
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        let inPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
        let collected = LineCollector(onLine: onLine)
        // On Ctrl-C or SIGTERM the child and everything it started stop before daxrig
        // exits: a make left running would go on writing into the build tree the next
        // daxrig builds in. A terminal's Ctrl-C reaches the child anyway; a signal sent
        // to daxrig alone (a test, a CI runner, kill) does not.
        let stop = try Cleanup.shared.started({ "stop \(executable) (pid \($0)) and its process group" }, start: {
            do { try Self.spawn(process) } catch { throw CommandError.couldNotStart(command: description, reason: "\(error)") }
            return process.processIdentifier
        }, stop: { _ = ProcessGroup.stop($0) })
        defer { Cleanup.shared.drop(stop) }
        PipePump.run(output: outPipe.fileHandleForReading.fileDescriptor, error: errPipe.fileHandleForReading.fileDescriptor,
                     input: input.map { .init(descriptor: inPipe.fileHandleForWriting.fileDescriptor, bytes: Array($0.utf8),
                                              close: { try? inPipe.fileHandleForWriting.close() }) },
                     into: collected)
        process.waitUntilExit()
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return Output(status: status, standardOutput: collected.text(.standardOutput), standardError: collected.text(.standardError))
    }

    /// Starts `process` with SIGHUP, SIGINT, SIGQUIT and SIGTERM unblocked. The child
    /// inherits the spawning thread's mask, and daxrig's threads block them (libdispatch,
    /// which delivers daxrig's own SIGINT): a child started so ignored the SIGTERM that
    /// stops it and lived on to the SIGKILL, and a git killed that way left its lock.
    public static func spawn(_ process: Process) throws {
        var unblock = sigset_t(), previous = sigset_t()
        sigemptyset(&unblock)
        for signo in [SIGHUP, SIGINT, SIGQUIT, SIGTERM] { sigaddset(&unblock, signo) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
    }

    /// Finds a program on PATH (plus the sbin directories a root shell would have).
    public static func locate(_ name: String) throws -> String {
        if name.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: name) else { throw CommandError.missing(tool: name, package: HostPackages.package(for: name)) }
            return name
        }
        if let found = which(name) { return found }
        throw CommandError.missing(tool: name, package: HostPackages.package(for: name))
    }

    public static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        for dir in dirs {
            let candidate = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The last `lines` lines of `text`, for error messages and console excerpts; any
    /// newline counts (serial consoles end lines with CRLF, one Character to Swift).
    public static func tail(_ text: String, lines: Int = 20) -> String {
        text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).suffix(lines).joined(separator: "\n")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// What a child printed, kept whole per stream and cut into lines for `onLine`. Used by
/// PipePump's one thread alone, so it holds no lock.
final class LineCollector {
    private var buffers: [Command.Stream: Data] = [:]
    private var texts: [Command.Stream: Data] = [.standardOutput: Data(), .standardError: Data()]
    private let onLine: (@Sendable (String, Command.Stream) -> Void)?

    init(onLine: (@Sendable (String, Command.Stream) -> Void)?) { self.onLine = onLine }

    func append(_ data: Data, _ stream: Command.Stream) {
        texts[stream, default: Data()].append(data)
        guard let onLine else { return }
        var buffer = buffers[stream, default: Data()]
        buffer.append(data)
        while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
            onLine(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self), stream)
            buffer = Data(buffer[buffer.index(after: newline)...])
        }
        buffers[stream] = buffer
    }

    func finish(_ stream: Command.Stream) {
        let rest = buffers[stream] ?? Data()
        buffers[stream] = Data()
        if !rest.isEmpty { onLine?(String(decoding: rest, as: UTF8.self), stream) }
    }

    func text(_ stream: Command.Stream) -> String {
        String(decoding: texts[stream] ?? Data(), as: UTF8.self)
    }
}

/// Why an external program could not do its part.
public enum CommandError: RigError, Equatable {
    /// The rig or the host failed: exit 3.
    public var exitStatus: ExitStatus { .infrastructure }

    /// The program is not installed; `package` is the Debian package that has it.
    case missing(tool: String, package: String?)
    /// The program exists but the system refused to start it.
    case couldNotStart(command: String, reason: String)
    /// The program ran and exited non-zero; `output` is the tail of what it printed.
    case failed(command: String, status: Int32, output: String)

    public var description: String {
        switch self {
        case let .missing(tool, package?):
            return "\(tool) is not installed: install the Debian package '\(package)' (apt-get install \(package)), or run scripts/setup.sh"
        case let .missing(tool, nil):
            return "\(tool) is not installed or not on PATH"
        case let .couldNotStart(command, reason):
            return "could not start \(command): \(reason)"
        case let .failed(command, status, output):
            return "\(command) exited with status \(status)" + (output.isEmpty ? "" : ":\n\(output)")
        }
    }
}

/// Which Debian package provides each host tool daxrig runs. scripts/setup.sh installs
/// the same list; keep the two in step.
public enum HostPackages {
    public static let byTool: [String: String] = [
        "make": "make", "gcc": "gcc", "flex": "flex", "bison": "bison", "bc": "bc",
        "ccache": "ccache", "pahole": "dwarves", "git": "git", "tar": "tar", "xz": "xz-utils", "lz4": "lz4",
        "rsync": "rsync", "cpio": "cpio", "strip": "binutils", "ldd": "libc-bin",
        "qemu-system-x86_64": "qemu-system-x86", "libvirtd": "libvirt-daemon-system",
        "virtlogd": "libvirt-daemon-system", "virt-xml-validate": "libxml2-utils",
        "ndctl": "ndctl", "mkfs.xfs": "xfsprogs", "mkfs.ext4": "e2fsprogs", "busybox": "busybox-static",
        "python3": "python3", "tini": "tini",
    ]

    public static func package(for tool: String) -> String? {
        byTool[(tool as NSString).lastPathComponent]
    }
}
