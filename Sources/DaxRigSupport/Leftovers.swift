import Foundation

/// What a daxrig that died without cleaning up (SIGKILL, a crash, a power cut) left in
/// the cache: a run directory with its pmem backing file (GiBs once the workloads
/// wrote), a half-copied kernel, a half-packed image. Every such directory is named
/// `<prefix><pid>-<random>` by `Files.temporaryDirectory`, so a later daxrig can tell
/// whose it was and whether that process still lives. A run directory kept on purpose
/// (a failed boot's console log, `--keep`) is not a leftover: a run directory is marked
/// in progress when made, and the mark goes when it is kept.
public enum Leftovers {
    /// The file in a run directory that says its run has not ended.
    public static let inProgressMark = ".daxrig-in-progress"

    /// The directories a leftover can be in, and the prefix its names start with.
    static func places(_ cache: Cache) -> [(directory: URL, prefix: String, needsMark: Bool)] {
        [(cache.runs, "run-", true), (cache.kernels, ".staging-", false), (cache.images, ".tmp-", false),
         (cache.selftests, ".building-", false), (cache.pmemTemplates, ".staging-", false)]
    }

    /// A run directory of this process, marked in progress.
    public static func runDirectory(in cache: Cache) throws -> URL {
        let directory = try Files.temporaryDirectory(in: cache.runs, prefix: "run-")
        try Files.write("", to: directory.appendingPathComponent(inProgressMark).path)
        return directory
    }

    /// The run ended and its directory stays, on purpose.
    public static func keep(_ runDirectory: URL) {
        Files.remove(runDirectory.appendingPathComponent(inProgressMark).path)
    }

    /// The pid in a leftover's name, `<prefix><pid>-<random>`.
    public static func owner(of name: String, prefix: String) -> pid_t? {
        guard name.hasPrefix(prefix) else { return nil }
        return name.dropFirst(prefix.count).split(separator: "-", maxSplits: 1).first.flatMap { pid_t($0) }
    }

    /// Whether `pid` names a live process (EPERM: alive, someone else's).
    public static func alive(_ pid: pid_t) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }

    /// Removes every leftover of a process that is gone; returns what it removed.
    @discardableResult
    public static func sweep(_ cache: Cache, isAlive: (pid_t) -> Bool = Leftovers.alive) -> [String] {
        var removed: [String] = []
        for place in places(cache) {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: place.directory.path)) ?? [] {
                guard let pid = owner(of: name, prefix: place.prefix), pid != getpid(), !isAlive(pid) else { continue }
                let path = place.directory.appendingPathComponent(name).path
                if place.needsMark, !Files.exists(path + "/" + inProgressMark) { continue }
                Files.removeDirectory(path)
                removed.append(path)
            }
        }
        return removed
    }
}
