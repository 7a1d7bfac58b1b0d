import Foundation

/// Stops a child and everything it started, and returns only once they are gone.
///
/// A make is a tree of processes (sub-makes, ccache, cc1, ld). SIGTERM to the top
/// make alone, and daxrig exiting at once, left that tree writing objects for about
/// a second into the build directory whose lock daxrig's exit had just released: the
/// next daxrig (a resumed bisect) checked out another commit under it. Foundation
/// starts every child as the leader of a process group of its own, so the group is
/// the tree: SIGTERM to the group, a grace period, then SIGKILL to what is left.
public enum ProcessGroup {
    /// The sequence: SIGTERM, wait up to `grace` for the group to empty, SIGKILL,
    /// wait up to one second more. Returns whether the group is gone.
    @discardableResult
    public static func stop(_ pid: pid_t, grace: TimeInterval = 5) -> Bool {
        guard pid > 0 else { return true }
        // Only a group of the child's own: never signal daxrig's group by mistake.
        let group = getpgid(pid)
        guard group == pid else {
            kill(pid, SIGTERM)
            return wait(until: Date().addingTimeInterval(grace)) { !Leftovers.alive(pid) }
        }
        kill(-group, SIGTERM)
        if wait(until: Date().addingTimeInterval(grace), for: { liveMembers(of: group).isEmpty }) { return true }
        kill(-group, SIGKILL)
        return wait(until: Date().addingTimeInterval(1)) { liveMembers(of: group).isEmpty }
    }

    /// Processes of the group that still run.
    public static func liveMembers(of group: pid_t) -> [pid_t] {
        running().filter { $0.group == group }.map(\.pid)
    }

    /// Every process that still runs, from /proc, with its parent and group. Zombies
    /// are left out: they have stopped and wait only for a parent to reap them, which
    /// for orphans may be a slow PID 1.
    public static func running() -> [(pid: pid_t, parent: pid_t, group: pid_t)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return names.compactMap { name in
            guard let pid = pid_t(name), let fields = statFields(of: name) else { return nil }
            guard fields.count > 2, fields[0] != "Z", fields[0] != "X", let parent = pid_t(fields[1]), let group = pid_t(fields[2]) else { return nil }
            return (pid, parent, group)
        }
    }

    /// The fields of /proc/`pid`/stat after "(comm)", whose name may hold spaces and
    /// parentheses: state at 0, ppid at 1, pgrp at 2, starttime (clock ticks after
    /// boot) at 19. `pid` may be "self".
    public static func statFields(of pid: String) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
    }

    private static func wait(until deadline: Date, for done: () -> Bool) -> Bool {
        while !done() {
            if Date() >= deadline { return false }
            usleep(20_000)
        }
        return true
    }
}
