import Glibc

// The kernel starts /init as PID 1 with whatever command-line words it did not
// recognize as arguments: as PID 1, arguments are ignored.
if getpid() == 1 {
    Agent(console: Console()).run()
} else {
    exit(CheckMode.run(arguments: EarlyStart.arguments))
}
