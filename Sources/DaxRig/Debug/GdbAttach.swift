import DaxRigKernel
import DaxRigMachine
import DaxRigSupport
import Foundation

/// `daxrig boot --gdb`: the stub for the domain and the line a developer pastes into
/// another terminal. gdb needs the kernel's vmlinux for every symbol, so a kernel
/// without one is refused before anything boots.
public struct GdbAttach: Sendable, Equatable {
    public var stub: GdbStub
    /// `gdb [-iex 'add-auto-load-safe-path DIR'] VMLINUX -ex 'target remote 127.0.0.1:PORT'`.
    public var command: String
    /// False when vmlinux has no DWARF: breakpoints by symbol work, file:line does not.
    public var hasDebugInfo: Bool

    public init(kernel: BootableKernel, port: Int, wait: Bool) throws {
        guard (1...65_535).contains(port) else {
            throw GdbAttachError.badPort(port)
        }
        guard let build = kernel.build, let vmlinux = build.vmlinux else {
            throw GdbAttachError.noVmlinux(kernel: kernel.bzImage)
        }
        stub = GdbStub(port: port, wait: wait)
        command = stub.command(vmlinux: vmlinux, scripts: build.gdbScripts)
        hasDebugInfo = KernelFiles(bzImage: kernel.bzImage).builtIn()?.contains("CONFIG_DEBUG_INFO") == true
    }
}

/// A gdb session that cannot be set up: the user's input (exit 2).
public enum GdbAttachError: RigError, Equatable {
    public var exitStatus: ExitStatus { .badInput }

    case noVmlinux(kernel: String)
    case badPort(Int)

    public var description: String {
        switch self {
        case let .noVmlinux(kernel):
            return "--gdb: the kernel \(kernel) has no vmlinux beside it (a bzImage daxrig did not build, or one cached before "
                + "daxrig kept vmlinux): build one with `daxrig kernel build --fragment kernels/configs/debug-info.config` and give its key"
        case let .badPort(port):
            return "--gdb-port \(port): takes a TCP port from 1 to 65535"
        }
    }
}
