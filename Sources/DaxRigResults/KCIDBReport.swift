import Foundation
import DaxRigSupport

/// Stored runs as KCIDB v5 I/O data (KernelCI's common database): a checkout (the
/// kernel source and patches) and a build (the cached kernel) per kernel, and one test per
/// subtest, with its KernelCI status, the numbers behind it as the log excerpt, and
/// each workload's PMD table pages as the numeric result of its sharing subtest.
public enum KCIDBReport {
    public static let origin = "daxrig"

    public static func render(_ runs: [StoredRunReport]) -> [String: Any] {
        var checkouts: [String: [String: Any]] = [:]
        var builds: [String: [String: Any]] = [:]
        var tests: [[String: Any]] = []
        for report in runs {
            let run = report.run
            let kernel = run.kernelKey ?? ContentHash.of(run.kernelPath).prefix(20).description
            let checkout = "\(origin):checkout-\(kernel)"
            let build = "\(origin):build-\(kernel)"
            checkouts[checkout] = checkouts[checkout] ?? [
                "id": checkout, "origin": origin,
                "comment": "kernel \(run.kernelRelease ?? "?") (daxrig cache key \(run.kernelKey ?? "none"))"
                    + (run.cell.map { ", matrix kernel \($0)" } ?? ""),
                "start_time": run.started,
            ]
            builds[build] = builds[build] ?? [
                "id": build, "origin": origin, "checkout_id": checkout,
                "architecture": "x86_64", "start_time": run.started,
                "comment": run.kernelPath,
            ]
            for (index, test) in report.tests.enumerated() {
                var entry: [String: Any] = [
                    "id": "\(origin):run-\(run.id)-\(index)",
                    "origin": origin,
                    "build_id": build,
                    "path": path(test.path),
                    "status": test.status.rawValue,
                    "comment": "\(run.spec): \(test.path)",
                    "log_excerpt": String(test.detail.prefix(16_384)),
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
            "version": ["major": 5, "minor": 0],
            "checkouts": checkouts.keys.sorted().map { checkouts[$0]! },
            "builds": builds.keys.sorted().map { builds[$0]! },
            "tests": tests,
        ]
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
