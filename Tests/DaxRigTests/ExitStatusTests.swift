import DaxRig
import DaxRigKernel
import DaxRigResults
import DaxRigSupport
import Testing

/// Every error says its own exit status (RigError), so the CLI needs no list of types:
/// these are the statuses the README documents, pinned per kind of error.
@Suite struct ExitStatusTests {
    @Test func errorsCarryTheStatusTheREADMEDocuments() {
        let cases: [(any RigError, DaxRigSupport.ExitStatus)] = [
            (FileError.unreadable(path: "/x", reason: "gone"), .badInput),
            (KernelBuildError.makeFailed(step: "compile", errors: "", log: "/l"), .failed),
            (KernelBuildError.hostFailed(step: "compile", reason: "disk full", log: "/l"), .infrastructure),
            (KernelBuildError.treeBusy(tree: "/t", pids: [1]), .infrastructure),
            (KernelBuildError.unknownKernel(reference: "abc", known: []), .badInput),
            (StoreError.noSuchRun("7"), .badInput),
            (StoreError.unusable(path: "/s", reason: "locked"), .infrastructure),
            (BisectError.git(action: "start", output: ""), .infrastructure),
            (BisectError.noBisect(directory: "/b"), .badInput),
        ]
        for (error, status) in cases {
            #expect(error.exitStatus == status, "\(error)")
        }
    }
}
