import ArgumentParser
import DaxRig
import Foundation
import DaxRigMachine
import DaxRigSupport
import DaxRigRun

struct GcCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove kept console logs, old kernels, images and work trees (or another host's uploads), oldest first, until they fit.",
        discussion: """
            Everything removed can be made again (a kernel rebuilds, from ccache, and a work tree is
            extracted anew) or was kept only for a reader (the console logs of failed boots). Nothing in
            use goes: a run whose daxrig still runs, a work tree a build holds. What a dead daxrig left
            (a SIGKILLed run's directory) is removed first, whatever the budget.

            With --host, daxrig's storage pool on that libvirt host instead: its uploaded kernels and
            images, oldest first, after uploads that died; never a volume a guest running there boots
            from, nor an upload this machine has under way. --dry-run leaves out the volumes of dead
            boots, which a real collection (and every boot on that host) removes first.
            """)

    @Option(help: "What the cache (or each host's daxrig pool, with --host) may keep (binary units).") var keep = "30G"
    @Option(name: .customLong("host"), help: ArgumentHelp(
        "Collect daxrig's storage pool on this libvirt host instead of the cache: uploaded kernels and images, oldest first, "
            + "and what dead boots and uploads left; never what a running guest there uses (repeatable).", valueName: "uri"))
    var hosts: [String] = []
    @Flag(help: "Say what would go, remove nothing.") var dryRun = false
    @Flag(help: "Print what went as JSON.") var json = false

    /// What `--json` prints, for the cache or (with `host`, one per host) a host's pool.
    struct Report: Encodable {
        var removed: [CacheCollector.Item]
        var skipped: [CacheCollector.Item]
        var before: UInt64
        var after: UInt64
        var dryRun: Bool
        var host: String? = nil
    }

    func run() throws {
        if !hosts.isEmpty { return try collectHosts() }
        let (removed, skipped, before) = try CLI.guarded { () -> ([CacheCollector.Item], [CacheCollector.Item], UInt64) in
            let budget = try ByteSize.parse(keep)
            return try CacheCollector().collect(keep: budget, dryRun: dryRun)
        }
        let freed = removed.reduce(UInt64(0)) { $0 + $1.bytes }
        if json {
            try CLI.printJSON(Report(removed: removed, skipped: skipped, before: before, after: before - freed, dryRun: dryRun))
            return
        }
        for item in removed {
            print("\(dryRun ? "would remove" : "removed") \(item.kind.rawValue) \(item.path) (\(ByteSize.format(item.bytes)))")
        }
        for item in skipped { print("skipped \(item.kind.rawValue) \(item.path): a build holds it") }
        print("cache: \(ByteSize.format(before)) before, \(ByteSize.format(before - freed)) after (keep \(keep))")
    }

    /// `--host`: each host's pool, one after another; a host that cannot be reached is
    /// an infrastructure error naming it, after what the hosts before it lost is printed.
    private func collectHosts() throws {
        let budget = try CLI.guarded { try ByteSize.parse(keep) }
        if hosts.contains(LibvirtConnection.defaultURI) {
            throw ValidationError("--host \(LibvirtConnection.defaultURI) is this machine, whose pool daxrig does not use: `daxrig gc` collects its cache")
        }
        let uris = try CLI.hosts(hosts).compactMap { $0 }
        var reports: [Report] = []
        defer { if json { try? CLI.printJSON(reports) } }
        for uri in uris {
            let (removed, skipped, before) = try CLI.guarded { try HostCollector(uri: uri).collect(keep: budget, dryRun: dryRun) }
            let after = before - removed.reduce(UInt64(0)) { $0 + $1.bytes }
            reports.append(Report(removed: removed, skipped: skipped, before: before, after: after, dryRun: dryRun, host: uri))
            guard !json else { continue }
            for item in removed {
                print("\(dryRun ? "would remove" : "removed") \(item.kind.rawValue) \(item.path) on \(uri) (\(ByteSize.format(item.bytes)))")
            }
            for item in skipped { print("kept \(item.kind.rawValue) \(item.path) on \(uri): a guest there uses it, or a boot or an upload here holds it") }
            print("\(uri): daxrig's pool \(ByteSize.format(before)) before, \(ByteSize.format(after)) after (keep \(keep))")
        }
    }
}
