import Testing
@testable import DaxRigMachine

/// What a run asks for every boot (BootPolicy), and which endings hold a guest for gdb.
@Suite struct BootPolicyTests {
    @Test func aRunsPolicyAddsToEachRequestAndKeepsWhatTheRequestAsked() {
        var request = BootRequest(kernel: "/k/bzImage", plan: .init(pmem: .init(fileSystem: .xfs), command: ["true"]))
        request.shares = [HostShare(host: "/own", guest: "/root/own")]
        request.gdb = GdbStub(port: 2000)
        let policy = BootPolicy(dumpOnCrash: true, gdb: GdbStub(port: 1234), holdForGdb: { _ in }, shares: [HostShare(host: "/run", guest: "/root/run")])
        policy.apply(to: &request)
        #expect(request.dumpOnCrash)
        #expect(request.gdb == GdbStub(port: 2000))   // the request's own port stays
        #expect(request.holdForGdb != nil)
        #expect(request.shares.map(\.host) == ["/own", "/run"])
        var plain = BootRequest(kernel: "/k/bzImage", plan: .init(pmem: .init(fileSystem: .xfs), command: ["true"]))
        BootPolicy().apply(to: &plain)
        #expect(!plain.dumpOnCrash && plain.gdb == nil && plain.holdForGdb == nil && plain.shares.isEmpty)
    }

    /// A guest the console watch stopped (halted in its panic, or stalled) or one still
    /// running at its timeout is there to attach to; one that ended on its own is not.
    @Test func onlyAStoppedOrTimedOutGuestIsHeld() {
        let crash = BootOutcome.kernelCrash(ConsoleFinding(kind: .panic, line: 1, excerpt: "Kernel panic - not syncing"))
        #expect(GuestRunner.holdsForGdb(crash, stoppedByConsole: true))
        #expect(GuestRunner.holdsForGdb(.timeout(seconds: 120, lastPhase: "command"), stoppedByConsole: false))
        // A panic that rebooted the guest ended the domain: nothing is left to hold.
        #expect(!GuestRunner.holdsForGdb(crash, stoppedByConsole: false))
        #expect(!GuestRunner.holdsForGdb(.commandExited(status: 0, signal: nil), stoppedByConsole: false))
        #expect(!GuestRunner.holdsForGdb(.infrastructure("libvirt"), stoppedByConsole: false))
    }
}
