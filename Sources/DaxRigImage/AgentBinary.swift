import Foundation

/// Where the guest agent binary is. SwiftPM builds it as the product `daxrig-agent`
/// into the same directory as the `daxrig` binary (and as the test bundle), so the
/// running executable's directory is the natural place to look.
public enum AgentBinary {
    public static let productName = "daxrig-agent"

    /// $DAXRIG_AGENT if set (it must exist), else daxrig-agent next to /proc/self/exe.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let path = environment["DAXRIG_AGENT"], !path.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw ImageError.agentNotFound(searched: ["$DAXRIG_AGENT=\(path)"])
            }
            return path
        }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let candidate = ((executable as NSString).deletingLastPathComponent as NSString).appendingPathComponent(productName)
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw ImageError.agentNotFound(searched: [candidate])
        }
        return candidate
    }
}
