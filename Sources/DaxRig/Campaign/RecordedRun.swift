import DaxRigImage
import DaxRigKernel
import DaxRigMachine
import DaxRigProtocol
import DaxRigResults
import DaxRigRun
import DaxRigSupport
import Foundation

/// A spec's run kept in the results store: begun as incomplete before the first boot,
/// finished with every subtest and metric, or with the host's error. It sits above Run
/// and Results because it joins them: the runner knows nothing of the store.
extension SpecRunner {
    /// Runs `spec` on this runner's machine, kept in the store with `recording`
    /// (CampaignRig.run(_:kernel:image:timeout:vcpuLimit:recording:output:)).
    public func run(_ spec: TestSpec, kernel: BootableKernel, image: GuestImage, timeout: Double? = nil, recording: Recording?,
                    output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> (SpecResults, Int64?) {
        try LiveRig(runner: runner).run(spec, kernel: kernel, image: image, timeout: timeout, recording: recording, output: output)
    }

    /// The same for a kernel given by its bzImage's path.
    public func run(_ spec: TestSpec, kernel: String, image: GuestImage, timeout: Double? = nil, recording: Recording?,
                    output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> (SpecResults, Int64?) {
        try run(spec, kernel: BootableKernel(image: kernel), image: image, timeout: timeout, recording: recording, output: output)
    }

    /// Where a run is recorded: the store, and what to say about the run's inputs.
    public struct Recording: Sendable {
        public var store: ResultStore
        public var command: String
        public var specText: String?
        /// Where a matrix run sits: its night, cell and, for a re-run, the run it repeats.
        public var night: Int64?
        public var cell: String?
        public var rerunOf: Int64?

        public init(store: ResultStore, command: String, specText: String?, night: Int64? = nil, cell: String? = nil, rerunOf: Int64? = nil) {
            self.store = store
            self.command = command
            self.specText = specText
            self.night = night
            self.cell = cell
            self.rerunOf = rerunOf
        }
    }
}

extension CampaignRig {
    /// Runs `spec`, and with `recording` keeps it in the store: begun (incomplete)
    /// once the spec is known to fit, finished with every subtest and metric at the end.
    /// Returns the results and the stored run's id.
    public func run(_ spec: TestSpec, kernel: BootableKernel, image: GuestImage, timeout: Double? = nil, vcpuLimit: Int? = nil,
                    recording: SpecRunner.Recording?,
                    output: @escaping @Sendable (AgentMessage.OutputStream, Data) -> Void) throws -> (SpecResults, Int64?) {
        let build = kernel.build
        // A provider's tests are built before the run is stored: a tree that is gone is
        // the user's to fix (exit 2), not a run with every test in ERROR.
        let spec = try suites(spec, kernel: kernel)
        let kernel = kernel.bzImage
        // The host once, before anything is stored: what the spec must fit, what every
        // boot runs on, and what the store records.
        let host = try host(kernel: kernel) { memory, disk in try SpecRunner.check(spec, memory: memory, disk: disk) }
        func run() throws -> SpecResults {
            try self.run(spec, kernel: kernel, image: image, host: host, vcpuLimit: vcpuLimit, timeout: timeout, output: output)
        }
        guard let recording else { return (try run(), nil) }
        let started = Date()
        // The build the kernel came from: its manifest for the store, its log and config
        // as the run's artifacts.
        var inputs = RunInputs.gather(command: recording.command, spec: spec.name, specText: recording.specText, kernelPath: kernel,
                                      manifest: build?.manifest, accelerator: host.accelerator.rawValue,
                                      versions: (libvirt: host.libvirtVersion, qemu: host.qemuVersion), host: host.name)
        (inputs.night, inputs.cell, inputs.rerunOf) = (recording.night, recording.cell, recording.rerunOf)
        let id = try recording.store.begin(inputs)
        let kept: [(String, String)] = build.map { [("build-log", $0.buildLog), ("kernel-config", $0.config)] } ?? []
        var artifacts = kept.filter { Files.exists($0.1) }
        do {
            let results = try run()
            artifacts += (results.workloads.compactMap(\.consoleLog) + results.persistence.compactMap(\.consoleLog) + results.stress.compactMap(\.consoleLog)
                         + results.suites.compactMap(\.consoleLog))
                .map { ("console-log", $0) }
            // Results the interrupt's teardown made (agent gone, no report) would be
            // stored as the run's own if the write raced the handler.
            try Cleanup.shared.uninterrupted {
                try recording.store.finish(id, record: RunRecord(results), artifacts: artifacts, seconds: Date().timeIntervalSince(started))
            }
            return (results, id)
        } catch {
            // Interrupted: the run stays incomplete, as a killed one does.
            if Cleanup.shared.interrupted { throw error }
            // The host failed mid-run: recorded as an ERROR of the whole spec, then reported.
            let record = RunRecord(tests: [TestRecord(path: spec.name, status: .error, detail: "\(error)")], metrics: [])
            Cleanup.shared.uninterrupted {
                try? recording.store.finish(id, record: record, artifacts: artifacts, seconds: Date().timeIntervalSince(started))
            }
            throw error
        }
    }
}
