/*
 * A KTAP-emitting test binary of daxrig's own, for the suite tests
 * (Tests/IntegrationTests/SuiteIntegrationTests.swift): each mode is a way a suite
 * can go wrong that daxrig must report as KernelCI would.
 *   fail      three tests, the second fails with a diagnostic; exits 1
 *   mismatch  a plan of three and two results; exits 0
 *   crash     one test passes, the second panics the kernel through LKDTM
 *   pass      nested KTAP, all passing
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int crash(void)
{
	int fd = open("/sys/kernel/debug/provoke-crash/DIRECT", O_WRONLY);

	printf("# lkdtm: PANIC through /sys/kernel/debug/provoke-crash/DIRECT\n");
	fflush(stdout);
	if (fd < 0 || write(fd, "PANIC", 5) != 5)
		printf("# could not provoke the crash\n");
	return 1;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "pass";

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("KTAP version 1\n");
	if (!strcmp(mode, "fail")) {
		printf("1..3\nok 1 first\n");
		printf("# second: expected 4096 bytes back, read 0\nnot ok 2 second\n");
		printf("ok 3 third # SKIP no second pmem device\n");
		return 1;
	}
	if (!strcmp(mode, "mismatch")) {
		printf("1..3\nok 1 first\nok 2 second\n");
		return 0;
	}
	if (!strcmp(mode, "crash")) {
		printf("1..4\nok 1 before_the_crash\n# Subtest: the_crash\n");
		return crash();
	}
	printf("1..2\n    KTAP version 1\n    # Subtest: nested\n    1..2\n    ok 1 inner_one\n    ok 2 inner_two\nok 1 nested\nok 2 flat\n");
	return 0;
}
