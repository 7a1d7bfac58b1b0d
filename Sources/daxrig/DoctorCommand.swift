import ArgumentParser
import DaxRig
import Foundation
import DaxRigSupport
import DaxRigMachine

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check every prerequisite (tools, kernel source, libvirt, KVM) and say how to fix what fails.")

    @Flag(help: "Print the checks as JSON.") var json = false
    @Option(name: .customLong("host"), help: ArgumentHelp(
        "Check this libvirt host instead of this machine's prerequisites: reachable, its libvirt and QEMU, its CPUs and memory, "
            + "and whether boots there use KVM (tried about once a day per host: a kernel goes up and boots there) "
            + "(repeatable; qemu:///system, qemu+ssh://user@host/system, qemu+tls://host/system).", valueName: "uri"))
    var hosts: [String] = []

    func validate() throws {
        for uri in hosts {
            if let problem = LibvirtConnection.uriProblem(uri) { throw ValidationError("--host \(uri): \(problem)") }
        }
    }

    func run() throws {
        let checks = hosts.isEmpty ? Doctor.run() : hosts.flatMap { Doctor.checks(host: $0) }
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
