/* SPDX-License-Identifier: MIT */
/*
 * tests/common/log-t.c: tests for common/log.c: the exact stderr line,
 * level names and filtering, control characters replaced, the cut of an
 * over-long message, errno kept, whole lines from several processes, and
 * log_printable() on awkward bytes and small buffers.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "tap/basic.h"

/* Enough for a few full log lines. */
#define CAP_MAX		(4 * (LOG_LINE_MAX + 256))

static int	cap_saved = -1;
static int	cap_rd = -1;
static char	cap_buf[CAP_MAX + 1];

/* Send stderr into a pipe until cap_end(). */
static void
cap_start(void)
{
	int p[2];

	fflush(stderr);
	if (pipe(p) == -1 || (cap_saved = dup(STDERR_FILENO)) == -1 ||
	    dup2(p[1], STDERR_FILENO) == -1)
		bail("cannot capture stderr: %s", strerror(errno));
	close(p[1]);
	cap_rd = p[0];
}

/* Put stderr back; returns what was written to it, NUL-terminated. */
static const char *
cap_end(void)
{
	size_t len = 0;
	ssize_t r;

	if (dup2(cap_saved, STDERR_FILENO) == -1)
		bail("cannot restore stderr: %s", strerror(errno));
	close(cap_saved);
	cap_saved = -1;
	while (len < CAP_MAX) {
		r = read(cap_rd, cap_buf + len, CAP_MAX - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(cap_rd);
	cap_rd = -1;
	cap_buf[len] = '\0';
	return cap_buf;
}

/* The expected line for this process. */
static const char *
line(const char *level, const char *func, const char *msg)
{
	static char buf[CAP_MAX];

	if (func != NULL)
		util_snprintf(buf, sizeof(buf), "log-t[%ld]: %s: %s: %s\n",
		    (long)getpid(), level, func, msg);
	else
		util_snprintf(buf, sizeof(buf), "log-t[%ld]: %s: %s\n",
		    (long)getpid(), level, msg);
	return buf;
}

static void
test_format(void)
{
	char want[CAP_MAX];
	size_t n;

	is_int(log_level(), LOG_INFO, "default level is LOG_INFO");

	cap_start();
	log_err("hello %d", 5);
	is_string(cap_end(), line("err", __func__, "hello 5"),
	    "log_err line format");

	cap_start();
	log_warn("w");
	is_string(cap_end(), line("warning", __func__, "w"), "log_warn");
	cap_start();
	log_notice("n");
	is_string(cap_end(), line("notice", __func__, "n"), "log_notice");
	cap_start();
	log_info("i %s", "x");
	is_string(cap_end(), line("info", __func__, "i x"), "log_info");
	cap_start();
	log_debug("d");
	is_string(cap_end(), "", "log_debug dropped at LOG_INFO");

	cap_start();
	log_write(LOG_CRIT, NULL, "no function");
	is_string(cap_end(), line("crit", NULL, "no function"),
	    "NULL func leaves FUNC out");
	cap_start();
	log_write(LOG_MAIL | LOG_NOTICE, "fn", "with facility");
	is_string(cap_end(), line("notice", "fn", "with facility"),
	    "facility bits ignored for the level");
	cap_start();
	log_write(LOG_INFO, "fn", "%s", "100% literal %s %n");
	is_string(cap_end(), line("info", "fn", "100% literal %s %n"),
	    "message text is never a format");

	cap_start();
	log_err("one");
	log_err("two");
	util_strlcpy(want, line("err", __func__, "one"), sizeof(want));
	n = strlen(want);
	util_strlcpy(want + n, line("err", __func__, "two"), sizeof(want) - n);
	is_string(cap_end(), want, "two calls, two lines");
}

static void
test_levels(void)
{
	log_set_level(LOG_DEBUG);
	is_int(log_level(), LOG_DEBUG, "level set to LOG_DEBUG");
	cap_start();
	log_debug("d");
	is_string(cap_end(), line("debug", __func__, "d"),
	    "log_debug shown at LOG_DEBUG");

	log_set_level(LOG_WARNING);
	cap_start();
	log_info("i");
	log_notice("n");
	is_string(cap_end(), "", "info and notice dropped at LOG_WARNING");
	cap_start();
	log_warn("w");
	is_string(cap_end(), line("warning", __func__, "w"),
	    "warning shown at LOG_WARNING");

	log_set_level(99);
	is_int(log_level(), LOG_DEBUG, "level clamped to LOG_DEBUG");
	log_set_level(-3);
	is_int(log_level(), LOG_EMERG, "level clamped to LOG_EMERG");
	cap_start();
	log_err("e");
	is_string(cap_end(), "", "err dropped at LOG_EMERG");
	log_set_level(LOG_INFO);
}

static void
test_sanitize(void)
{
	char big[3 * LOG_LINE_MAX], want[LOG_LINE_MAX + 1];

	cap_start();
	log_info("peer said '%s'", "a\r\nb\x1b[0m\x7f\tc\x01");
	is_string(cap_end(), line("info", __func__, "peer said 'a??b?[0m??c?'"),
	    "control characters replaced");
	cap_start();
	log_info("%s", "-ERR fake\nkpopd[1]: err: forged");
	is_string(cap_end(), line("info", __func__,
	    "-ERR fake?kpopd[1]: err: forged"), "no forged second line");
	cap_start();
	log_info("caf\xc3\xa9 ~");
	is_string(cap_end(), line("info", __func__, "caf\xc3\xa9 ~"),
	    "high bytes and '~' kept");

	/* Exactly LOG_LINE_MAX bytes: kept whole. */
	memset(big, 'x', sizeof(big));
	big[LOG_LINE_MAX] = '\0';
	cap_start();
	log_info("%s", big);
	is_string(cap_end(), line("info", __func__, big),
	    "message of LOG_LINE_MAX kept whole");

	/* One more, and far more: cut to LOG_LINE_MAX ending "...". */
	memset(want, 'x', LOG_LINE_MAX - 3);
	memcpy(want + LOG_LINE_MAX - 3, "...", 4);
	big[LOG_LINE_MAX] = 'y';
	big[LOG_LINE_MAX + 1] = '\0';
	cap_start();
	log_info("%s", big);
	is_string(cap_end(), line("info", __func__, want),
	    "message of LOG_LINE_MAX + 1 cut with ...");
	big[sizeof(big) - 1] = '\0';
	cap_start();
	log_info("%s and more %d", big, 42);
	is_string(cap_end(), line("info", __func__, want),
	    "long message cut with ...");
	/* A control character past the cut is gone, one before is replaced. */
	big[LOG_LINE_MAX - 4] = '\n';
	cap_start();
	log_info("%s", big);
	want[LOG_LINE_MAX - 4] = '?';
	is_string(cap_end(), line("info", __func__, want),
	    "cut message still sanitized");
}

static void
test_errno(void)
{
	int fd;

	errno = ENOENT;
	cap_start();
	log_err("x");
	cap_end();
	is_int(errno, ENOENT, "errno kept across a logged message");
	errno = EACCES;
	log_debug("dropped");
	is_int(errno, EACCES, "errno kept across a dropped message");

	/* A write that fails (stderr closed) must not change errno. */
	fflush(stderr);
	if ((fd = dup(STDERR_FILENO)) == -1)
		bail("dup: %s", strerror(errno));
	close(STDERR_FILENO);
	errno = EINTR;
	log_err("nowhere");
	is_int(errno, EINTR, "errno kept when the write fails");
	if (dup2(fd, STDERR_FILENO) == -1)
		bail("dup2: %s", strerror(errno));
	close(fd);

	errno = ERANGE;
	log_open("log-t", LOG_DEST_STDERR, 0);
	is_int(errno, ERANGE, "errno kept across log_open");
}

/*
 * Several processes logging at once into one O_APPEND file: every line
 * must come out whole, which needs one write(2) per line.
 */
static void
test_processes(void)
{
	enum { NPROC = 4, NLINES = 200 };
	char path[512], *buf = NULL, *p, *nl, want[LOG_LINE_MAX + 128];
	char pad[600];
	const char *base;
	size_t len = 0, cap = 0, lines = 0;
	ssize_t r;
	int fd, i, j, status, good = 1;
	pid_t pid, pids[NPROC];

	if ((base = test_data_dir()) == NULL &&
	    (base = getenv("TMPDIR")) == NULL)
		base = "/tmp";
	util_snprintf(path, sizeof(path), "%s/log-t.XXXXXX", base);
	if ((fd = mkstemp(path)) == -1)
		bail("mkstemp %s: %s", path, strerror(errno));
	close(fd);
	if ((fd = open(path, O_WRONLY | O_APPEND)) == -1)
		bail("open %s: %s", path, strerror(errno));
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';

	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < NPROC; i++) {
		if ((pids[i] = fork()) == -1)
			bail("fork: %s", strerror(errno));
		if (pids[i] == 0) {
			if (dup2(fd, STDERR_FILENO) == -1)
				_exit(1);
			for (j = 0; j < NLINES; j++)
				log_write(LOG_INFO, "child", "line %d %s", j,
				    pad);
			_exit(0);
		}
	}
	close(fd);
	for (i = 0; i < NPROC; i++)
		if (waitpid(pids[i], &status, 0) == -1 ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			good = 0;
	ok(good, "%d children logged", NPROC);

	if ((fd = open(path, O_RDONLY)) == -1)
		bail("open %s: %s", path, strerror(errno));
	for (;;) {
		if (len == cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			if ((buf = realloc(buf, cap + 1)) == NULL)
				bail("out of memory");
		}
		if ((r = read(fd, buf + len, cap - len)) <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	unlink(path);
	buf[len] = '\0';

	good = 1;
	for (p = buf; *p != '\0'; p = nl + 1) {
		long lpid;
		int n, k;

		if ((nl = strchr(p, '\n')) == NULL) {
			good = 0;
			break;
		}
		*nl = '\0';
		if (sscanf(p, "log-t[%ld]: info: child: line %d %n", &lpid, &n,
		    &k) != 2) {
			good = 0;
			break;
		}
		util_snprintf(want, sizeof(want), "log-t[%ld]: info: child: "
		    "line %d %s", lpid, n, pad);
		pid = (pid_t)lpid;
		for (i = 0; i < NPROC; i++)
			if (pids[i] == pid)
				break;
		if (strcmp(p, want) != 0 || i == NPROC) {
			diag("bad line: %.80s", p);
			good = 0;
			break;
		}
		lines++;
	}
	ok(good, "every line whole");
	is_int((long long)lines, NPROC * NLINES, "every line there");
	free(buf);
}

static void
test_open(void)
{
	cap_start();
	log_open("a-very-long-program-name-that-goes-on-and-on",
	    LOG_DEST_STDERR, 0);
	log_write(LOG_ERR, "f", "m");
	log_open("log-t", LOG_DEST_STDERR, 0);
	{
		char want[128];

		util_snprintf(want, sizeof(want),
		    "a-very-long-program-name-that-g[%ld]: err: f: m\n",
		    (long)getpid());
		is_string(cap_end(), want, "ident cut to 31 bytes");
	}

	/* To syslog and back: nothing is written while it is the target. */
	cap_start();
	log_open("log-t", LOG_DEST_SYSLOG, LOG_USER);
	log_set_level(LOG_EMERG);
	log_err("not sent anywhere");
	log_set_level(LOG_INFO);
	log_open("log-t", LOG_DEST_STDERR, 0);
	log_info("back");
	is_string(cap_end(), line("info", __func__, "back"),
	    "back on stderr after syslog");
}

/* log_printable into a heap block of exactly dstlen (ASan-checked). */
static void
pr_is(const void *src, size_t srclen, size_t dstlen, const char *want,
    const char *what)
{
	char *dst = malloc(dstlen > 0 ? dstlen : 1);
	size_t n;

	if (dst == NULL)
		bail("out of memory");
	n = log_printable(dst, dstlen, src, srclen);
	if (n != strlen(want)) {
		ok(0, "%s", what);
		diag("returned %zu, wanted %zu", n, strlen(want));
	} else
		is_string(dst, want, "%s", what);
	free(dst);
}

static void
test_printable(void)
{
	static const char nasty[] = "a\0b\r\n\t\\c\x7f\x80\xff \x1b~";
	char one = 'z';

	pr_is(nasty, sizeof(nasty) - 1, 128,
	    "a\\x00b\\r\\n\\t\\\\c\\x7f\\x80\\xff \\x1b~", "escapes");
	pr_is("it's", 4, 16, "it\\x27s", "single quote escaped");
	pr_is("", 0, 4, "", "empty source");
	pr_is(NULL, 0, 4, "", "NULL source of length 0");
	pr_is("abcdef", 6, 7, "abcdef", "exact fit");
	pr_is("abcdef", 6, 6, "ab...", "one short: cut with ...");
	pr_is("a\x01", 2, 6, "a\\x01", "escape fits exactly");
	pr_is("a\x01", 2, 5, "a...", "escape not split");
	pr_is("\x01\x02", 2, 8, "\\x01...", "first escape then ...");
	pr_is("\\\\", 2, 5, "\\\\\\\\", "two backslashes fit");
	pr_is("abc", 3, 3, "..", "dstlen 3: dots only");
	pr_is("abc", 3, 1, "", "dstlen 1: empty");
	pr_is("abcd", 4, 4, "...", "dstlen 4: just ...");
	is_int((long long)log_printable(&one, 0, "abc", 3), 0,
	    "dstlen 0 returns 0");
	is_int(one, 'z', "dstlen 0 writes nothing");
}

int
main(void)
{
	plan(48);

	log_open("log-t", LOG_DEST_STDERR, 0);
	test_format();
	test_levels();
	test_sanitize();
	test_errno();
	test_processes();
	test_open();
	test_printable();
	return 0;
}
