import DaxRigImage
import DaxRigKernel
import DaxRigProtocol
import DaxRigRun
import DaxRigSupport
import Foundation
import DaxRigMachine

/// What the campaigns (matrix, nightly, bisect) ask of the floors below them: a kernel
/// built, the guest image, the host measured, a spec run. `LiveRig` builds, packs and
/// boots for real; a unit test hands in a rig with canned results, as kunit.py's tests
/// inject a fake kernel tree, so how a night re-runs and judges, or a matrix fills its
/// cells, is tested without a build or a boot. Recording runs in the store is the
/// campaigns' own and stays real either way (RecordedRun.swift).
public protocol CampaignRig: Sendable {
    /// Where run directories go (the host's free disk is measured there).
    var cache: Cache { get }
    func kernel(_ request: KernelBuildRequest, progress: ProgressSink) throws -> KernelArtifacts
    func image(progress: ProgressSink) throws -> GuestImage
    /// The host for a run of `kernel`: its capacity handed to `fits` (which throws for
    /// a spec that cannot fit) before anything is probed or dialled.
    func host(kernel: String, fits: (_ memory: UInt64, _ disk: UInt64) throws -> Void) throws -> HostFacts
    /// Runs `spec` on `host`; `vcpuLimit` caps each guest's vCPUs when guests run side by side.
    func run(_ spec: TestSpec, kernel: String, image: GuestImage, host: HostFacts, vcpuLimit: Int?, timeout: Double?,
             output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> SpecResults
    /// `spec` with its providers' suites made concrete for `kernel` (SuiteProviders).
    func suites(_ spec: TestSpec, kernel: BootableKernel) throws -> TestSpec
    /// This rig with every boot on libvirt host `uri` (nil: this machine's); a rig
    /// that boots nothing stays itself.
    func on(host uri: String?) -> any CampaignRig
}

extension CampaignRig {
    public func on(host uri: String?) -> any CampaignRig { self }

    public func suites(_ spec: TestSpec, kernel: BootableKernel) throws -> TestSpec {
        try SuiteProviders.prepare(spec, kernel: kernel, cache: cache, progress: SilentProgress())
    }
}

/// The rig itself: KernelBuilder, ImageBuilder and GuestRunner's boots.
public struct LiveRig: CampaignRig {
    public var runner: GuestRunner
    public var cache: Cache { runner.cache }

    public init(runner: GuestRunner) { self.runner = runner }

    public func kernel(_ request: KernelBuildRequest, progress: ProgressSink) throws -> KernelArtifacts {
        try KernelBuilder(cache: cache, progress: progress).build(request)
    }

    public func image(progress: ProgressSink) throws -> GuestImage {
        try ImageBuilder(cache: cache, progress: progress).build()
    }

    public func host(kernel: String, fits: (_ memory: UInt64, _ disk: UInt64) throws -> Void) throws -> HostFacts {
        try runner.hostFacts(kernel: kernel, fits: fits)
    }

    public func suites(_ spec: TestSpec, kernel: BootableKernel) throws -> TestSpec {
        try SuiteProviders.prepare(spec, kernel: kernel, cache: cache, progress: runner.progress)
    }

    public func on(host uri: String?) -> any CampaignRig {
        var placed = self
        placed.runner.policy.host = uri
        return placed
    }

    public func run(_ spec: TestSpec, kernel: String, image: GuestImage, host: HostFacts, vcpuLimit: Int?, timeout: Double?,
                    output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> SpecResults {
        var pinned = runner.with(host)
        if let vcpuLimit { pinned.vcpuLimit = vcpuLimit }
        return try SpecRunner(runner: pinned).run(spec, kernel: kernel, image: image, timeout: timeout, output: output)
    }
}
