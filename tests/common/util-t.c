/* SPDX-License-Identifier: MIT */
/*
 * tests/common/util-t.c: tests for common/util.c, above all the one strict
 * number parser every number from a peer or a file goes through.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "tap/basic.h"
#include "tap/files.h"

static int
parse(const char *s, unsigned long long max, unsigned long long *v)
{
	return util_parse_uint(s, strlen(s), max, v);
}

/* The file helpers: whole writes, whole reads, the fcntl trylock. */
static void
test_files(void)
{
	char path[] = "/tmp/util-t.XXXXXX", buf[16], hex[9];
	static const unsigned char bytes[] = { 0x00, 0x9f, 0xa0, 0xff };
	int fd, st;
	pid_t pid;

	if ((fd = mkstemp(path)) == -1)
		bail("mkstemp");
	ok(util_write_all(fd, "hello ", 6, -1) == 0 &&
	    util_write_all(fd, "world", 5, -1) == 0, "write_all appends");
	ok(util_write_all(fd, "W", 1, 6) == 0, "write_all at an offset");
	ok(util_pread_full(fd, buf, sizeof(buf), 0) == 11 &&
	    memcmp(buf, "hello World", 11) == 0, "pread_full reads to EOF");
	is_int((long long)util_pread_full(fd, buf, 5, 6), 5, "pread_full n");
	is_int(util_write_all(-1, "x", 1, -1), -1, "write_all: a bad fd");
	is_int(util_trylock(fd), 0, "trylock taken");
	is_int(util_lock_holder(fd), 0, "lock_holder: our own lock is "
	    "nobody else's");
	fflush(stdout);
	if ((pid = fork()) == 0) {
		int fd2 = open(path, O_RDWR);

		if (fd2 == -1)
			_exit(2);
		/* The holder, as another process sees it: the parent. */
		_exit(util_lock_holder(fd2) == (long)getppid() ?
		    util_trylock(fd2) : 3);
	}
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 1, "another process: busy, "
	    "and lock_holder names the holder");
	close(fd);
	unlink(path);
	util_hex(bytes, sizeof(bytes), hex);
	is_string(hex, "009fa0ff", "hex");
	ok(util_fsync_dir("/tmp") == 0, "fsync a directory");
	ok(util_fsync_dir("/nonexistent/util-t") == -1 && errno == ENOENT,
	    "fsync a missing directory: ENOENT");
	ok(util_fsync_dir("/dev/null") == -1 && errno == ENOTDIR,
	    "fsync a file as a directory: ENOTDIR");
	ok(util_xdigit('0') == 0 && util_xdigit('a') == 10 &&
	    util_xdigit('F') == 15 && util_xdigit('g') == -1 &&
	    util_xdigit('/') == -1, "xdigit");
}

/*
 * The tests' own tree removal never follows a link out of the tree: it
 * once chmod'ed every entry, and a link a test planted to /etc/passwd
 * made it 0700.
 */
static void
test_rm_tree(void)
{
	char target[] = "/tmp/util-t-target.XXXXXX";
	const char *dir = t_scratch("util-t");
	struct stat sb;
	int fd, st;

	if ((fd = mkstemp(target)) == -1)
		bail("mkstemp");
	close(fd);
	if (chmod(target, 0644) == -1 ||
	    mkdir(t_path(dir, "sub"), 0755) == -1 ||
	    symlink(target, t_path(dir, "sub/link")) == -1 ||
	    chmod(t_path(dir, "sub"), 0) == -1)
		bail("setting up: %s", strerror(errno));
	t_scratch_done();
	memset(&sb, 0, sizeof(sb));
	st = stat(target, &sb);
	ok(st == 0 && (sb.st_mode & 07777) == 0644, "t_rm_tree leaves a "
	    "link's target alone (mode %o)", (unsigned)(sb.st_mode & 07777));
	ok(lstat(dir, &sb) == -1 && errno == ENOENT,
	    "and removes the tree, a directory without rights included");
	unlink(target);
}

int
main(void)
{
	unsigned long long v = 77;
	char small[8];
	unsigned char secret[4] = { 1, 2, 3, 4 };

	plan(41);
	ok(parse("0", 10, &v) == 0 && v == 0, "0");
	ok(parse("10", 10, &v) == 0 && v == 10, "the maximum itself");
	ok(parse("11", 10, &v) == -1 && v == 10, "over the maximum, untouched");
	ok(parse("007", 10, &v) == 0 && v == 7, "leading zeros");
	is_int(parse("8", 7, &v), -1, "one digit over a small maximum");
	ok(parse("7", 7, &v) == 0 && v == 7, "a small maximum itself");
	is_int(parse("", 10, &v), -1, "empty");
	is_int(parse(" 1", 10, &v), -1, "leading blank");
	is_int(parse("1 ", 10, &v), -1, "trailing blank");
	is_int(parse("-1", 10, &v), -1, "minus");
	is_int(parse("+1", 10, &v), -1, "plus");
	is_int(parse("0x10", 100, &v), -1, "hex");
	is_int(parse("1e3", 10000, &v), -1, "exponent");
	ok(parse("18446744073709551615", ~0ULL, &v) == 0 && v == ~0ULL,
	    "2^64-1");
	is_int(parse("18446744073709551616", ~0ULL, &v), -1, "2^64");
	is_int(parse("99999999999999999999999999", ~0ULL, &v), -1, "huge");
	is_int(util_parse_uint("12\0003", 4, 100, &v), -1, "embedded NUL");
	ok(util_parse_uint("1234", 2, 100, &v) == 0 && v == 12,
	    "only len bytes are read");

	is_int(util_strlcpy(small, "1234567", sizeof(small)), 0, "strlcpy fits");
	ok(util_strlcpy(small, "12345678", sizeof(small)) == -1 &&
	    strcmp(small, "1234567") == 0, "strlcpy truncates, says so");
	ok(util_snprintf(small, sizeof(small), "%d", 1234567) == 0 &&
	    strcmp(small, "1234567") == 0, "snprintf fits");
	ok(util_snprintf(small, sizeof(small), "%d", 12345678) == -1 &&
	    strcmp(small, "1234567") == 0, "snprintf truncates, says so");
	util_wipe(secret, sizeof(secret));
	ok(secret[0] == 0 && secret[3] == 0, "wipe");
	util_wipe(NULL, 5);
	ok(1, "wipe of NULL is harmless");
	test_files();
	test_rm_tree();

	{
		struct timespec ts;
		long long t0, t1, t2;

		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		t0 = util_now_ms();
		ok(t0 >= (long long)ts.tv_sec * 1000 &&
		    t0 - (long long)ts.tv_sec * 1000 <= 1000 + 100,
		    "util_now_ms is CLOCK_MONOTONIC in milliseconds");
		util_sleep_ms(30);
		t1 = util_now_ms();
		util_sleep_ms(0);
		t2 = util_now_ms();
		ok(t1 - t0 >= 30 && t2 >= t1,
		    "util_sleep_ms(30) sleeps at least 30 ms (%lld)", t1 - t0);
	}
	return 0;
}
