import Foundation
import Synchronization
import Testing
@testable import DaxRig
@testable import DaxRigMachine

/// Issue 14, item 9: the accelerator was decided once per host boot from one try, and
/// a try that failed for any reason (QEMU not startable, a full disk) pinned the whole
/// host boot to TCG; a kvm module loaded, or QEMU upgraded, after the first probe was
/// never seen.
@Suite struct AcceleratorMemoTests {
    let host = HostFingerprint(bootID: "b1", qemu: "/usr/bin/qemu-system-x86_64 ino 7 mtime 1", kvmDevice: "/dev/kvm rdev 2792", kvmModules: ["kvm"])

    /// Runs `decide` with a probe that answers `outcome` and counts its calls.
    func decide(_ memo: AcceleratorMemo?, on host: HostFingerprint, answering outcome: ProbeOutcome) -> (Accelerator, AcceleratorMemo?, Int) {
        let calls = Mutex(0)
        let (accelerator, kept) = AcceleratorMemo.decide(memo: memo, host: host) {
            calls.withLock { $0 += 1 }
            return outcome
        }
        return (accelerator, kept, calls.withLock { $0 })
    }

    @Test func aConclusiveVerdictIsRememberedWithItsReasonAndReusedOnTheSameHost() {
        let (first, memo, probes) = decide(nil, on: host, answering: .fails("hung"))
        #expect(first == .tcg && probes == 1 && memo?.detail == "hung" && memo?.host == host)
        let (again, kept, more) = decide(memo, on: host, answering: .works("booted"))
        #expect(again == .tcg && more == 0 && kept == memo)
    }

    @Test func aProbeThatCouldNotTellIsNotRememberedSoTheNextBootTriesAgain() {
        let (accelerator, memo, probes) = decide(nil, on: host, answering: .inconclusive("cannot start QEMU"))
        #expect(accelerator == .tcg && memo == nil && probes == 1)
        let (next, kept, more) = decide(memo, on: host, answering: .works("booted"))
        #expect(next == .kvm && more == 1 && kept?.accelerator == .kvm)
    }

    @Test(arguments: [
        \HostFingerprint.bootID, \HostFingerprint.qemu, \HostFingerprint.kvmDevice,
    ] as [WritableKeyPath<HostFingerprint, String> & Sendable])
    func anyChangeOfTheHostProbesAgain(_ part: WritableKeyPath<HostFingerprint, String> & Sendable) {
        let (_, memo, _) = decide(nil, on: host, answering: .fails("hung"))
        var changed = host
        changed[keyPath: part] += " changed"
        let (accelerator, kept, probes) = decide(memo, on: changed, answering: .works("booted"))
        #expect(accelerator == .kvm && probes == 1 && kept?.host == changed)
    }

    @Test func aKVMModuleLoadedAfterTheFirstProbeProbesAgain() {
        let (_, memo, _) = decide(nil, on: host, answering: .fails("/dev/kvm does not exist"))
        var loaded = host
        loaded.kvmModules.append("kvm_intel")
        #expect(decide(memo, on: loaded, answering: .works("booted")).0 == .kvm)
    }

    @Test func thisHostsFingerprintIsStableBetweenTwoReads() {
        #expect(HostFingerprint.current() == HostFingerprint.current())
        #expect(HostFingerprint.current().bootID != "unknown")
    }
}
