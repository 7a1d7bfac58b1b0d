import Foundation
import DaxRigSupport

/// Stored runs as JUnit XML, the format CI systems read: one testsuite per run, one
/// testcase per subtest (classname: the workload, name: the expectation). FAIL is a
/// <failure>, ERROR an <error>, MISS and SKIP are <skipped>; the numbers behind each
/// verdict are its message, and the workload metrics are the suite's properties.
public enum JUnitReport {
    public static func render(_ runs: [StoredRunReport]) -> String {
        let all = runs.flatMap(\.tests)
        let failures = { (tests: [TestRecord]) in tests.filter { $0.status == .fail }.count }
        let errors = { (tests: [TestRecord]) in tests.filter { $0.status == .error }.count }
        let skipped = { (tests: [TestRecord]) in tests.filter { $0.status == .miss || $0.status == .skip }.count }
        var lines = [#"<?xml version="1.0" encoding="UTF-8"?>"#,
                     #"<testsuites name="daxrig" tests="\#(all.count)" failures="\#(failures(all))" errors="\#(errors(all))" skipped="\#(skipped(all))">"#]
        for report in runs {
            let (run, tests) = (report.run, report.tests)
            let seconds = tests.compactMap(\.seconds).reduce(0, +)
            let suite = "daxrig." + (run.cell.map { "\($0)." } ?? "") + run.spec
            lines.append(#"  <testsuite name="\#(escape(suite))" id="\#(run.id)" tests="\#(tests.count)" failures="\#(failures(tests))" errors="\#(errors(tests))" skipped="\#(skipped(tests))" time="\#(String(format: "%.3f", run.seconds ?? seconds))" timestamp="\#(escape(run.started))" hostname="\#(escape(run.host))">"#)
            lines.append("    <properties>")
            let properties = [("kernel", run.kernelRelease ?? run.kernelPath), ("kernel-key", run.kernelKey ?? ""), ("accelerator", run.accelerator ?? ""),
                              ("qemu", run.qemuVersion ?? ""), ("libvirt", run.libvirtVersion ?? ""), ("state", run.state.rawValue)]
                + report.metrics.map { ("\($0.test).\($0.name)", "\(format($0.value)) \($0.unit)") }
            for (name, value) in properties {
                lines.append(#"      <property name="\#(escape(name))" value="\#(escape(value))"/>"#)
            }
            lines.append("    </properties>")
            for test in tests {
                let parts = test.path.split(separator: ".", maxSplits: 1).map(String.init)
                let classname = parts.count == 2 ? parts[0] : run.spec
                let name = parts.count == 2 ? parts[1] : parts[0]
                let open = #"    <testcase classname="\#(escape(classname))" name="\#(escape(name))" time="\#(String(format: "%.3f", test.seconds ?? 0))""#
                switch test.status {
                case .pass, .done:
                    lines.append(open + "/>")
                case .fail:
                    lines += [open + ">", #"      <failure message="\#(escape(test.detail))" type="FAIL"/>"#, "    </testcase>"]
                case .error:
                    lines += [open + ">", #"      <error message="\#(escape(test.detail))" type="ERROR"/>"#, "    </testcase>"]
                case .miss, .skip:
                    lines += [open + ">", #"      <skipped message="\#(escape("\(test.status.rawValue): \(test.detail)"))"/>"#, "    </testcase>"]
                }
            }
            lines.append("  </testsuite>")
        }
        lines.append("</testsuites>")
        return lines.joined(separator: "\n") + "\n"
    }

    public static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.4g", value)
    }

    static func escape(_ text: String) -> String { XMLText.escape(text) }
}
