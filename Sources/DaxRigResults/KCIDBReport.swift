import Foundation
import DaxRigKernel
import DaxRigSupport

/// Stored runs as KCIDB I/O data (KernelCI's common database), schema 5.3, the newest
/// kcidb-io 141 validates: a checkout (the source and the series) and a build (the
/// kernel) per kernel, and one test per subtest, with its KernelCI status, the numbers
/// behind it as the log excerpt, and each workload's PMD table pages as the numeric
/// result of its sharing subtest. What KernelCI correlates on (the commit, the patch
/// set's hash, the config's name, the compiler) comes from the kernel's manifest; no
/// field meant for others carries a path of this host.
public enum KCIDBReport {
    public static let origin = "daxrig"
    public static let version = (major: 5, minor: 3)

    public static func render(_ runs: [StoredRunReport]) -> [String: Any] {
        var checkouts: [String: [String: Any]] = [:]
        var builds: [String: [String: Any]] = [:]
        var tests: [[String: Any]] = []
        for report in runs {
            let run = report.run
            let kernel = run.kernelKey ?? ContentHash.of(run.kernelPath).prefix(20).description
            let manifest = run.kernelManifest.flatMap { try? JSONCoding.decoder.decode(KernelManifest.self, from: Data($0.utf8)) }
            // One checkout per source and series: kernels of one tree and series built
            // with different configs are builds of the same checkout.
            let checkout = "\(origin):checkout-" + (manifest.map { ContentHash.of($0.sourceIdentity.id + patchsetHash($0)).prefix(20).description } ?? kernel)
            let build = "\(origin):build-\(kernel)"
            checkouts[checkout] = checkouts[checkout] ?? Self.checkout(checkout, manifest: manifest, run: run)
            builds[build] = builds[build] ?? Self.build(build, checkout: checkout, manifest: manifest, run: run, kernel: kernel)
            for (index, test) in report.tests.enumerated() {
                var entry: [String: Any] = [
                    "id": "\(origin):run-\(run.id)-\(index)",
                    "origin": origin,
                    "build_id": build,
                    "path": path(test.path),
                    "status": test.status.rawValue,
                    "comment": "\(run.spec): \(test.path)",
                    "log_excerpt": Self.excerpt(test.detail),
                    "start_time": run.started,
                    "environment": ["comment": "QEMU \(run.qemuVersion ?? "?") (\(run.accelerator ?? "?")) through libvirt \(run.libvirtVersion ?? "?") on \(run.host)"],
                ]
                if let seconds = test.seconds { entry["duration"] = seconds }
                let workload = test.path.split(separator: ".").first.map(String.init) ?? test.path
                if test.path.hasSuffix(".shares") || test.path.hasSuffix(".private"),
                   let pages = report.metrics.first(where: { $0.test == workload && $0.name == "pmd_pages" }) {
                    entry["number"] = ["value": pages.value, "unit": "PMD table pages"]
                }
                tests.append(entry)
            }
        }
        return [
            "version": ["major": version.major, "minor": version.minor],
            "checkouts": checkouts.keys.sorted().map { checkouts[$0]! },
            "builds": builds.keys.sorted().map { builds[$0]! },
            "tests": tests,
        ]
    }

    /// KCIDB's patchset_hash: SHA-256 over the newline-terminated SHA-256 of each patch,
    /// in order; empty without patches.
    static func patchsetHash(_ manifest: KernelManifest) -> String {
        manifest.patches.isEmpty ? "" : ContentHash.of(manifest.patches.map { $0.sha256 + "\n" }.joined())
    }

    static func checkout(_ id: String, manifest: KernelManifest?, run: StoredRun) -> [String: Any] {
        var entry: [String: Any] = ["id": id, "origin": origin, "start_time": run.started,
                                    "comment": "Linux \(run.kernelRelease ?? "?")" + (run.cell.map { ", matrix kernel \($0)" } ?? "")]
        guard let manifest else { return entry }
        entry["valid"] = true
        entry["patchset_hash"] = patchsetHash(manifest)
        var misc: [String: Any] = ["source_kind": manifest.sourceIdentity.kind, "source_id": manifest.sourceIdentity.id,
                                   "patches": manifest.patches.map(\.name)]
        entry["start_time"] = ResultStore.timestamp(manifest.created)
        switch manifest.source {
        case let .git(repository, _):
            entry["git_commit_hash"] = manifest.sourceIdentity.id
            // A git source is a repository on this host: its path is for nobody else.
            entry["tree_name"] = URL(fileURLWithPath: repository).deletingPathExtension().lastPathComponent
        case let .tarball(path):
            entry["tree_name"] = URL(fileURLWithPath: path).lastPathComponent.replacingOccurrences(of: ".tar.xz", with: "")
            misc["tarball_sha256"] = manifest.sourceIdentity.id
        case .directory:
            entry["tree_name"] = "local-tree"
        }
        entry["misc"] = misc
        return entry
    }

    static func build(_ id: String, checkout: String, manifest: KernelManifest?, run: StoredRun, kernel: String) -> [String: Any] {
        var entry: [String: Any] = ["id": id, "origin": origin, "checkout_id": checkout, "architecture": manifest?.arch ?? "x86_64",
                                    "start_time": run.started, "comment": "daxrig kernel \(kernel), Linux \(run.kernelRelease ?? "?")"]
        guard let manifest else { return entry }
        entry["status"] = "PASS"
        entry["start_time"] = ResultStore.timestamp(manifest.created)
        // Names, not paths: a base config or a fragment given as a file is its file's name.
        entry["config_name"] = ([manifest.configBase] + manifest.fragments).map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent }
            .joined(separator: "+")
        entry["compiler"] = manifest.compiler
        entry["duration"] = manifest.timings.totalSeconds
        entry["misc"] = ["kernel_key": manifest.key, "config_sha256": manifest.configSHA256, "compiled_files": manifest.compiledFiles]
        return entry
    }

    /// KCIDB's log_excerpt: at most 16,384 code points (its maxLength counts those, not
    /// characters), no NUL (the schema refuses it).
    static func excerpt(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars where scalar != "\0" {
            guard scalars.count < 16_384 else { break }
            scalars.append(scalar)
        }
        return String(scalars)
    }

    public static func json(_ runs: [StoredRunReport]) throws -> Data {
        try JSONSerialization.data(withJSONObject: render(runs), options: [.prettyPrinted, .sortedKeys])
    }

    /// KCIDB test paths are dot-separated names of [a-zA-Z0-9_-]: "daxrig.<workload>.<expectation>".
    static func path(_ path: String) -> String {
        let cleaned = path.split(separator: ".").map { part in
            String(part.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") ? $0 : "_" })
        }
        return ([origin] + cleaned).joined(separator: ".")
    }
}
