import Foundation
import DaxRigSupport
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
    func decide(_ memo: AcceleratorMemo<HostFingerprint>?, on host: HostFingerprint, answering outcome: ProbeOutcome) -> (Accelerator, AcceleratorMemo<HostFingerprint>?, Int) {
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

    /// Another libvirt host (issue 19): its verdict holds while what its libvirtd lets
    /// daxrig see of it holds; a kvm module loaded there (libvirt then offers KVM
    /// guests), another QEMU or libvirt, or another machine behind the URI probes again.
    @Test(arguments: [
        \RemoteHostFingerprint.uuid, \RemoteHostFingerprint.libvirt, \RemoteHostFingerprint.hypervisor, \RemoteHostFingerprint.kvm,
    ] as [WritableKeyPath<RemoteHostFingerprint, String> & Sendable])
    func anotherHostsVerdictHoldsUntilWhatLibvirtShowsOfItChanges(_ part: WritableKeyPath<RemoteHostFingerprint, String> & Sendable) {
        let remote = RemoteHostFingerprint(uri: "qemu+ssh://ci@h1/system", uuid: "645b3649", libvirt: "9.0.0", hypervisor: "7.2.0",
                                           kvm: "refused: KVM is not supported")
        let calls = Mutex(0)
        func decide(_ memo: AcceleratorMemo<RemoteHostFingerprint>?, _ host: RemoteHostFingerprint, _ outcome: ProbeOutcome)
            -> (Accelerator, AcceleratorMemo<RemoteHostFingerprint>?) {
            AcceleratorMemo.decide(memo: memo, host: host) { calls.withLock { $0 += 1 }; return outcome }
        }
        let (first, memo) = decide(nil, remote, .fails("offers no KVM guests"))
        #expect(first == .tcg && memo?.host == remote && calls.withLock { $0 } == 1)
        #expect(decide(memo, remote, .works("booted")).0 == .tcg && calls.withLock { $0 } == 1)
        var changed = remote
        changed[keyPath: part] += " changed"
        #expect(decide(memo, changed, .works("booted")).0 == .kvm && calls.withLock { $0 } == 2)
        #expect(!remote.kvmOffered && RemoteHostFingerprint(uri: "u", uuid: "", libvirt: "", hypervisor: "", kvm: "offered 0a1b").kvmOffered)
    }

    /// The verdicts file: each entry read on its own (one broken entry costs that host a
    /// new try, not every host its verdict), a verdict kept beside the others, and
    /// forgotten when asked.
    @Test func eachHostsVerdictIsKeptBesideTheOthersAndABrokenEntrySpoilsOnlyItself() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let cache = Cache(root: directory)
        func memo(_ uri: String, _ accelerator: Accelerator) -> AcceleratorMemo<RemoteHostFingerprint> {
            AcceleratorMemo(accelerator: accelerator, detail: "d",
                            host: RemoteHostFingerprint(uri: uri, uuid: "u", libvirt: "9.0.0", hypervisor: "7.2.0", kvm: "offered 1"),
                            decided: Date(timeIntervalSince1970: 1_800_000_000))
        }
        RemoteVerdicts.remember(memo("qemu+ssh://a/system", .tcg), for: "qemu+ssh://a/system", cache: cache)
        RemoteVerdicts.remember(memo("qemu+ssh://b/system", .kvm), for: "qemu+ssh://b/system", cache: cache)
        #expect(RemoteVerdicts.remembered(cache: cache).mapValues(\.accelerator) == ["qemu+ssh://a/system": .tcg, "qemu+ssh://b/system": .kvm])
        // b's entry spoilt (as a newer daxrig might write it): a is still known.
        var entries = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: RemoteVerdicts.path(cache)))) as? [String: Any])
        entries["qemu+ssh://b/system"] = ["accelerator": "quantum"]
        try JSONSerialization.data(withJSONObject: entries).write(to: URL(fileURLWithPath: RemoteVerdicts.path(cache)))
        #expect(RemoteVerdicts.remembered(cache: cache).mapValues(\.accelerator) == ["qemu+ssh://a/system": .tcg])
        RemoteVerdicts.remember(nil, for: "qemu+ssh://a/system", cache: cache)
        #expect(RemoteVerdicts.remembered(cache: cache).isEmpty)
        try "not json".write(toFile: RemoteVerdicts.path(cache), atomically: true, encoding: .utf8)
        #expect(RemoteVerdicts.remembered(cache: cache).isEmpty)
    }

    /// Both probes, here and on another host, judge a console and a start error by
    /// these two rules: a kernel that reached its root said so, and only an error that
    /// names KVM is a verdict on it (a missing file or a libvirt quirk is not).
    @Test(arguments: [
        ("[    1.2] VFS: Cannot open root device \"(null)\" or unknown-block(0,0): error -6", true),
        ("[    1.3] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)", true),
        ("SeaBIOS (version 1.16.2-debian-1.16.2-1)\nBooting from ROM..", false),
        ("", false),
    ])
    func aProbeKernelReachedItsRootOnlyWhenItsConsoleSaysSo(console: String, reached: Bool) {
        #expect(ProbeOutcome.reachedRoot(console) == reached)
    }

    /// Both probes' watch: a console silent since it opened is a hang once
    /// ProbeWatch.silence is up (counted from the opening, so a QEMU slow to start is
    /// not called hung), while a kernel that printed anything gets the whole timeout to
    /// reach its root; reaching it is a yes even when QEMU has just ended, and an end
    /// without it is no verdict of the watch's own.
    @Test(arguments: [
        (7.9, 7.9, false, true, ProbeWatch.watching),
        (8.0, 8.0, false, true, .silent),
        (12.0, 7.9, false, true, .watching),
        (8.0, nil, false, true, .watching),
        (19.9, nil, false, true, .watching),
        (20.0, nil, false, true, .timedOut),
        (20.0, 3.0, false, true, .timedOut),
        (3.0, nil, true, false, .reachedRoot),
        (30.0, nil, true, true, .reachedRoot),
        (3.0, nil, false, false, .ended),
        (9.0, 9.0, false, false, .ended),
    ] as [(Double, Double?, Bool, Bool, ProbeWatch)])
    func aProbeIsAHangWhenItsConsoleStaysSilentOrItsRootNeverComes(elapsed: Double, silentFor: Double?, root: Bool, running: Bool, expected: ProbeWatch) {
        #expect(ProbeWatch.judge(elapsed: elapsed, silentFor: silentFor, reachedRoot: root, running: running, timeout: 20) == expected)
    }

    @Test func aProbesVerdictSaysWhichHangItWasAndWhere() {
        #expect(ProbeWatch.silent.outcome(what: "KVM", where: "", timeout: 20) == .fails("a kernel under KVM printed nothing within 8 s (hung)"))
        #expect(ProbeWatch.timedOut.outcome(what: "qemu", where: " on qemu+ssh://h/system", timeout: 0.3)
            == .fails("a kernel under qemu on qemu+ssh://h/system did not get to mounting its root within 0.3 s (hung)"))
        #expect(ProbeWatch.timedOut.outcome(what: "KVM", where: "", timeout: 20)
            == .fails("a kernel under KVM did not get to mounting its root within 20 s (hung)"), "the wording remembered verdicts had")
        #expect(ProbeWatch.reachedRoot.outcome(what: "KVM", where: "", timeout: 20) == .works("a kernel booted under KVM"))
        #expect(ProbeWatch.ended.outcome(what: "KVM", where: "", timeout: 20) == nil)
        // A timeout shorter than the silence is the timeout's.
        #expect(ProbeWatch.judge(elapsed: 0.3, silentFor: 0.3, reachedRoot: false, running: true, timeout: 0.3) == .timedOut)
    }

    /// The probe on another host, on a clock of its own: waits advance it, and so may
    /// sizing the log (a pool refresh that retries).
    final class FakeDomain {
        var clock = 0.0, stopsAt = Double.infinity, bytes: UInt64? = 0, sizing = 0.0, sized = 0
        var waits: [Double] = []
        func watch(timeout: Double = 20) -> ProbeWatch {
            ProbeWatch.remote(timeout: timeout, now: { self.clock }, waitUntilStopped: { seconds in
                self.waits.append(seconds)
                if self.clock + seconds >= self.stopsAt { self.clock = max(self.clock, self.stopsAt); return true }
                self.clock += seconds
                return false
            }, logBytes: { self.sized += 1; self.clock += self.sizing; return self.bytes }, isActive: { self.clock < self.stopsAt })
        }
    }

    @Test func aProbeOnAnotherHostLooksAtItsConsoleOnceAndCountsTheTimeThatTook() {
        let quick = FakeDomain()
        quick.stopsAt = 3
        #expect(quick.watch() == .ended && quick.sized == 0, "a kernel that got to its root ends its domain: nothing to size")
        let silent = FakeDomain()
        #expect(silent.watch() == .silent && silent.waits == [8] && silent.sized == 1)
        let printed = FakeDomain()
        printed.bytes = 120
        printed.sizing = 5
        #expect(printed.watch() == .timedOut && printed.waits == [8, 7], "20 s in all, the refresh's 5 s counted: \(printed.waits)")
        let later = FakeDomain()
        later.bytes = 120
        later.stopsAt = 15
        #expect(later.watch() == .ended)
        // A log that cannot be sized is not silence: only the timeout can call it hung.
        let unknown = FakeDomain()
        unknown.bytes = nil
        #expect(unknown.watch() == .timedOut)
        // The domain that ended while its log was sized ended: no remembered "hung".
        let died = FakeDomain()
        died.stopsAt = 9
        died.sizing = 2
        #expect(died.watch() == .ended)
    }

    @Test func onlyAStartErrorThatNamesKVMIsAVerdict() {
        #expect(ProbeOutcome.startFailed("Could not access KVM kernel module: No such file or directory") == .fails("Could not access KVM kernel module: No such file or directory"))
        #expect(ProbeOutcome.startFailed("failed to initialize kvm: Permission denied") == .fails("failed to initialize kvm: Permission denied"))
        #expect(ProbeOutcome.startFailed("could not open kernel file '/nope': No such file") == .inconclusive("could not open kernel file '/nope': No such file"))
    }

    /// The remote probe's domain is one libvirt's schema accepts.
    @Test func theRemoteProbesDomainIsValid() throws {
        let xml = Accelerator.probeXML(name: "daxrig-1-probe", type: "kvm", kernel: "/var/lib/libvirt/daxrig/k<&>-bzImage",
                                       consoleLog: "/var/lib/libvirt/daxrig/run-daxrig-1-probe-console.log")
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("probe.xml").path
        try xml.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try Command("virt-xml-validate", [path, "domain"]).runAllowingFailure()
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        #expect(xml.contains("k&lt;&amp;&gt;-bzImage") && xml.contains("<on_reboot>destroy</on_reboot>") && xml.contains("panic=-1"))
    }

    @Test func thisHostsFingerprintIsStableBetweenTwoReads() {
        #expect(HostFingerprint.current() == HostFingerprint.current())
        #expect(HostFingerprint.current().bootID != "unknown")
    }
}
