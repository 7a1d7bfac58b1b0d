import DaxRigProtocol
import FoundationEssentials
import Glibc

/// What the agent does when it is not PID 1: nothing destructive. It never mounts and
/// never powers off (as root on a host, that would power off the host). `--check`
/// decodes a plan and looks for the tools the plan needs on the guest PATH, so an
/// image can be checked in a chroot on the host.
enum CheckMode {
    static let usage = """
        daxrig-agent is the guest's /init (PID 1) in a daxrig initramfs; outside a guest it only checks.
        usage: daxrig-agent --check [plan.json]   decode the plan (default \(GuestPlan.path) if present)
                                                  and find the guest tools on PATH \(ChildProcess.defaultPath)
        """

    /// The process exit status: 0 all good, 1 a check failed, 2 usage.
    static func run(arguments: [String]) -> Int32 {
        guard arguments.count >= 2, arguments[1] == "--check", arguments.count <= 3 else {
            print(usage)
            return 2
        }
        var ok = true
        let explicitPlan = arguments.count == 3 ? arguments[2] : nil
        let planPath = explicitPlan ?? GuestPlan.path
        var plan: GuestPlan?
        if explicitPlan != nil || FileIO.exists(planPath) {
            do {
                plan = try JSONDecoder().decode(GuestPlan.self, from: Data(try FileIO.readBytes(planPath)))
                print("plan \(planPath): pmem \(plan!.pmem.fileSystem.rawValue) at \(plan!.pmem.mountPoint)"
                    + "\(plan!.pmem.reuse ? " (reuse)" : ""), command \(plan!.command)")
            } catch {
                print("plan \(planPath): \(error)")
                ok = false
            }
        }
        var tools = ["sh", "ndctl", "mkfs.ext4", "mkfs.xfs"]
        if let program = plan?.command.first { tools.append(program) }
        let path = ChildProcess.environment(adding: plan?.environment ?? [:])["PATH"] ?? ChildProcess.defaultPath
        for tool in tools {
            if let found = ChildProcess.resolve(tool, path: path) {
                print("\(tool): \(found)")
            } else {
                print("\(tool): NOT FOUND on \(path)")
                ok = false
            }
        }
        print(ok ? "ok" : "check failed")
        return ok ? 0 : 1
    }
}
