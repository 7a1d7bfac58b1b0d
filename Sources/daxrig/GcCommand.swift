import ArgumentParser
import DaxRig
import Foundation
import DaxRigSupport
import DaxRigRun

struct GcCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove kept console logs, old kernels, images and work trees, oldest first, until the cache fits.",
        discussion: """
            Everything removed can be made again (a kernel rebuilds, from ccache, and a work tree is
            extracted anew) or was kept only for a reader (the console logs of failed boots). Nothing in
            use goes: a run whose daxrig still runs, a work tree a build holds. What a dead daxrig left
            (a SIGKILLed run's directory) is removed first, whatever the budget.
            """)

    @Option(help: "What the cache may keep (binary units).") var keep = "30G"
    @Flag(help: "Say what would go, remove nothing.") var dryRun = false
    @Flag(help: "Print what went as JSON.") var json = false

    func run() throws {
        let (removed, skipped, before) = try CLI.guarded { () -> ([CacheCollector.Item], [CacheCollector.Item], UInt64) in
            let budget = try ByteSize.parse(keep)
            return try CacheCollector().collect(keep: budget, dryRun: dryRun)
        }
        let freed = removed.reduce(UInt64(0)) { $0 + $1.bytes }
        if json {
            struct Report: Encodable { var removed: [CacheCollector.Item]; var skipped: [CacheCollector.Item]; var before: UInt64; var after: UInt64; var dryRun: Bool }
            try CLI.printJSON(Report(removed: removed, skipped: skipped, before: before, after: before - freed, dryRun: dryRun))
            return
        }
        for item in removed {
            print("\(dryRun ? "would remove" : "removed") \(item.kind.rawValue) \(item.path) (\(ByteSize.format(item.bytes)))")
        }
        for item in skipped { print("skipped \(item.kind.rawValue) \(item.path): a build holds it") }
        print("cache: \(ByteSize.format(before)) before, \(ByteSize.format(before - freed)) after (keep \(keep))")
    }
}
