import Glibc

// The kernel starts /init as PID 1 with whatever command-line words it did not
// recognize as arguments: as PID 1, arguments are ignored.
if getpid() == 1 {
    Agent(console: Console()).run()
} else if EarlyStart.arguments.count >= 2, EarlyStart.arguments[1] == "workload" {
    // Run by the agent as the plan's command: /init workload.
    exit(Workload.run())
} else if EarlyStart.arguments.count >= 3, EarlyStart.arguments[1] == "persist" {
    // /init persist write|verify: the two boots of a persistence check.
    exit(Persistence.run(phase: EarlyStart.arguments[2]))
} else if EarlyStart.arguments.count >= 2, EarlyStart.arguments[1] == "dax-cases" {
    // A suite's command: /init dax-cases [DIR [CASE...]] prints KTAP (DaxCases).
    exit(DaxCases.run(directory: EarlyStart.arguments.count >= 3 ? EarlyStart.arguments[2] : "/mnt/pmem",
                      only: Array(EarlyStart.arguments.dropFirst(3))))
} else {
    exit(CheckMode.run(arguments: EarlyStart.arguments))
}
