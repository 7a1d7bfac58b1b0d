import ArgumentParser
import DaxRig
import DaxRigProtocol
import Foundation

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Map one file from many processes in a guest and report PMD page-table accounting and verdicts.",
        discussion: """
            With no arguments: the default kernel, FS/DAX on xfs and ext4 and the hugetlbfs control, N = 1, 10, 100,
            1000, S = 1 GiB at a 1 GiB address, expecting what unpatched 6.1 does: hugetlbfs shares PMD tables,
            FS/DAX does not, nothing leaks, data intact, kernel log clean. Exit status 0 only when every
            expectation holds, 1 when one fails, 3 when a boot gave no report.
            """)

    @Option(help: "A cached kernel key (or prefix), a kernel directory or a bzImage (default: the default kernel).")
    var kernel: String?
    @Option(help: "Comma-separated process counts.") var processes = "1,10,100,1000"
    @Option(help: "Comma-separated backings: fsdax-xfs, fsdax-ext4, hugetlbfs, tmpfs.") var backings = "fsdax-xfs,fsdax-ext4,hugetlbfs"
    @Option(help: "Mapping size per process (binary units).") var size = "1G"
    @Option(help: "Seconds per boot before it is reported as a timeout.") var timeout: Double = 900
    @Flag(help: "Print the results as JSON.") var json = false
    @Flag(help: "Print the results as KTAP v1 (what tools/testing/kunit/kunit.py parse reads).") var ktap = false

    func run() throws {
        Cleanup.shared.installSignalHandlers()
        let progress = TerminalProgress()
        let counts = try processes.split(separator: ",").map { text -> Int in
            guard let n = Int(text), (1...10_000).contains(n) else { throw ValidationError("--processes takes numbers from 1 to 10000, not '\(text)'") }
            return n
        }
        let kinds = try backings.split(separator: ",").map { text -> WorkloadSpec.Backing in
            guard let backing = WorkloadSpec.Backing(rawValue: String(text)) else {
                throw ValidationError("unknown backing '\(text)': use \(WorkloadSpec.Backing.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return backing
        }
        let results = try CLI.guarded { () -> [WorkloadResult] in
            let cases = WorkloadCase.defaults(processes: counts, backings: kinds, mappingBytes: try ByteSize.parse(size))
            let kernelPath = try kernel.map { try KernelStore().resolveImage($0) } ?? KernelBuilder(progress: progress).build(.default).bzImage
            let image = try ImageBuilder(progress: progress).build()
            return try WorkloadRunner(runner: GuestRunner(progress: progress)).run(cases, kernel: kernelPath, image: image, timeout: timeout) { _, data in
                FileHandle.standardError.write(data)
            }
        }
        progress.finish()
        if json {
            print(String(decoding: try JSONCoding.encoder.encode(results.map(ResultRow.init)), as: UTF8.self))
        } else if ktap {
            print(KTAP.render(results), terminator: "")
        } else {
            print(ResultTable.render(results))
        }
        if results.contains(where: { $0.report == nil }) { throw ExitCode(3) }
        if !results.allSatisfy(\.passed) { throw ExitCode(1) }
    }
}
