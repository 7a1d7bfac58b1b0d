import Foundation
import DaxRigSupport

/// Why a kernel could not be built or found.
public enum KernelBuildError: RigError, Equatable {
    /// A kernel that does not build is the kernel's failure (1); a host that failed the
    /// build, or a tree in use, is the rig's (3); the rest are inputs (2).
    public var exitStatus: ExitStatus {
        switch self {
        case .makeFailed: .failed
        case .hostFailed, .treeBusy: .infrastructure
        default: .badInput
        }
    }

    /// The source path does not exist or is not a kernel tree.
    case sourceMissing(path: String, hint: String)
    /// The git ref does not name a commit in the repository.
    case badRef(repository: String, ref: String)
    /// `make` failed; `errors` are the first error lines, `log` the full log's path.
    case makeFailed(step: String, errors: String, log: String)
    /// `make` failed because of the host, not the source (a full disk, a compiler or
    /// make killed by the OOM killer): the tree may well build elsewhere.
    case hostFailed(step: String, reason: String, log: String)
    /// No cached kernel matches the reference given to --kernel.
    case unknownKernel(reference: String, known: [String])
    case ambiguousKernel(reference: String, matches: [String])
    /// Processes still work in daxrig's own tree for this source: what a daxrig that
    /// was SIGKILLed mid-build left running (exit status 3, like any host failure).
    case treeBusy(tree: String, pids: [pid_t])

    public var description: String {
        switch self {
        case let .sourceMissing(path, hint):
            return "kernel source \(path) not found: \(hint)"
        case let .badRef(repository, ref):
            return "\(ref) is not a commit in \(repository) (check the branch, tag or hash; `git -C \(repository) log --oneline -1 \(ref)`)"
        case let .makeFailed(step, errors, log):
            return "kernel \(step) failed:\n\(errors.isEmpty ? "(no compiler error found; see the log)" : errors)\nfull log: \(log)"
        case let .hostFailed(step, reason, log):
            return "kernel \(step) failed on this host, not in the source: \(reason)\nfull log: \(log)"
        case let .unknownKernel(reference, known):
            return "no kernel \(reference): give a bzImage path, a kernel directory, or a cached key"
                + (known.isEmpty ? " (the cache is empty: run `daxrig kernel build`)" : " (cached: \(known.joined(separator: ", ")))")
        case let .ambiguousKernel(reference, matches):
            return "\(reference) matches several cached kernels: \(matches.joined(separator: ", ")); give more of the key"
        case let .treeBusy(tree, pids):
            return "processes \(pids.map(String.init).joined(separator: ", ")) still run in daxrig's work tree \(tree) (left by a daxrig "
                + "that was killed?): wait for them or stop them (kill \(pids.map(String.init).joined(separator: " "))), then build again"
        }
    }
}
