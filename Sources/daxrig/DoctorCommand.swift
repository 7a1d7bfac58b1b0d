import ArgumentParser
import DaxRig
import Foundation
import DaxRigSupport

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check every prerequisite (tools, kernel source, libvirt, KVM) and say how to fix what fails.")

    @Flag(help: "Print the checks as JSON.") var json = false

    func run() throws {
        let checks = Doctor.run()
        if json {
            try CLI.printJSON(checks)
        } else {
            let width = checks.map(\.name.count).max() ?? 0
            for check in checks {
                let mark = switch check.status { case .ok: "ok  "; case .warning: "warn"; case .failed: "FAIL" }
                print("\(mark)  \(check.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(check.detail)")
                if let fix = check.fix, check.status != .ok { print("      \(String(repeating: " ", count: width))  fix: \(fix)") }
            }
        }
        if checks.contains(where: { $0.status == .failed }) { throw ExitCode(1) }
    }
}
