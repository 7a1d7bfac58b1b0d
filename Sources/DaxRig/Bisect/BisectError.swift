import DaxRigSupport
/// Why a bisect cannot start or go on.
public enum BisectError: RigError, Equatable {
    /// A git or rig failure is the host's (3); the rest are inputs and state the user can fix (2).
    public var exitStatus: ExitStatus {
        switch self {
        case .git, .rig: .infrastructure
        default: .badInput
        }
    }

    /// An endpoint does not behave as claimed: the good ref fails, or the bad one passes.
    case endpoint(which: String, ref: String, commit: String, verdict: String, detail: String)
    /// A bisect is in progress and a new one was asked for.
    case inProgress(started: String, good: String, bad: String)
    /// Nothing to resume, or to log.
    case noBisect(directory: String)
    /// git bisect said something daxrig did not expect.
    case git(action: String, output: String)
    /// Another daxrig is bisecting in this state directory.
    case busy(directory: String)
    /// The host, not the commit, failed a step (a full disk, an OOM-killed make, every
    /// boot lost to libvirt): nothing is told to git and the step is not saved, so
    /// `--resume` tests the commit again once the host is fixed. Exit 3.
    case rig(commit: String, detail: String)
    /// A path the bisect was started with is gone (a resume from a tree without it).
    case missingInput(what: String, path: String)

    public var description: String {
        switch self {
        case let .endpoint(which, ref, commit, verdict, detail):
            let expected = which == "good" ? "pass" : "fail"
            return "the \(which) ref \(ref) (\(commit.prefix(12))) does not \(expected) the oracle: it is \(verdict) (\(detail)). "
                + "Pick another --\(which), or check the spec and --expect against a plain `daxrig run` on that kernel."
        case let .inProgress(started, good, bad):
            return "a bisect of \(good)..\(bad) started \(started) is in progress: `daxrig bisect --resume` carries it on, `daxrig bisect --reset` drops it"
        case let .noBisect(directory):
            return "no bisect in \(directory): start one with `daxrig bisect --git PATH --good REF --bad REF --spec FILE`"
        case let .git(action, output):
            return "git bisect \(action) failed:\n\(output)"
        case let .busy(directory):
            return "another daxrig is bisecting in \(directory): wait for it, or give this one its own --state directory"
        case let .rig(commit, detail):
            return "the rig failed at \(commit.prefix(12)), not the commit: \(detail). Nothing was told to git; "
                + "fix the host and `daxrig bisect --resume` tests this commit again"
        case let .missingInput(what, path):
            return "the bisect's \(what) \(path) is gone: put it back (the bisect keeps absolute paths) or `daxrig bisect --reset`"
        }
    }
}
