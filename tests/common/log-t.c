/* SPDX-License-Identifier: MIT */
/*
 * tests/common/log-t.c: tests for common/log.c: the exact stderr line,
 * level names and filtering, control characters replaced, the cut of an
 * over-long message, errno kept, whole lines from several processes, the
 * session tag and ids, the journal's "<N>" prefixes, facility names,
 * log_value() and log_printable() on awkward bytes and small buffers.
 */
#include "config.h"

#include <sys/stat.h>
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
line(const char *level, const char *msg)
{
	static char buf[CAP_MAX];

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
	is_string(cap_end(), line("err", "hello 5"),
	    "log_err line format");

	cap_start();
	log_warn("w");
	is_string(cap_end(), line("warning", "w"), "log_warn");
	cap_start();
	log_notice("n");
	is_string(cap_end(), line("notice", "n"), "log_notice");
	cap_start();
	log_info("i %s", "x");
	is_string(cap_end(), line("info", "i x"), "log_info");
	cap_start();
	log_debug("d");
	is_string(cap_end(), "", "log_debug dropped at LOG_INFO");

	cap_start();
	log_write(LOG_CRIT, "no function name");
	is_string(cap_end(), line("crit", "no function name"),
	    "log_write: no function name in the line");
	cap_start();
	log_write(LOG_MAIL | LOG_NOTICE, "with facility");
	is_string(cap_end(), line("notice", "with facility"),
	    "facility bits ignored for the level");
	cap_start();
	log_write(LOG_INFO, "%s", "100% literal %s %n");
	is_string(cap_end(), line("info", "100% literal %s %n"),
	    "message text is never a format");

	cap_start();
	log_err("one");
	log_err("two");
	util_strlcpy(want, line("err", "one"), sizeof(want));
	n = strlen(want);
	util_strlcpy(want + n, line("err", "two"), sizeof(want) - n);
	is_string(cap_end(), want, "two calls, two lines");
}

static void
test_levels(void)
{
	log_set_level(LOG_DEBUG);
	is_int(log_level(), LOG_DEBUG, "level set to LOG_DEBUG");
	cap_start();
	log_debug("d");
	is_string(cap_end(), line("debug", "d"),
	    "log_debug shown at LOG_DEBUG");

	log_set_level(LOG_WARNING);
	cap_start();
	log_info("i");
	log_notice("n");
	is_string(cap_end(), "", "info and notice dropped at LOG_WARNING");
	cap_start();
	log_warn("w");
	is_string(cap_end(), line("warning", "w"),
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
	is_string(cap_end(), line("info", "peer said 'a??b?[0m??c?'"),
	    "control characters replaced");
	cap_start();
	log_info("%s", "-ERR fake\nkpopd[1]: err: forged");
	is_string(cap_end(), line("info", "-ERR fake?kpopd[1]: err: forged"),
	    "no forged second line");
	cap_start();
	log_info("caf\xc3\xa9 ~");
	is_string(cap_end(), line("info", "caf\xc3\xa9 ~"),
	    "high bytes and '~' kept");

	/* Exactly LOG_LINE_MAX bytes: kept whole. */
	memset(big, 'x', sizeof(big));
	big[LOG_LINE_MAX] = '\0';
	cap_start();
	log_info("%s", big);
	is_string(cap_end(), line("info", big),
	    "message of LOG_LINE_MAX kept whole");

	/* One more, and far more: cut to LOG_LINE_MAX ending "...". */
	memset(want, 'x', LOG_LINE_MAX - 3);
	memcpy(want + LOG_LINE_MAX - 3, "...", 4);
	big[LOG_LINE_MAX] = 'y';
	big[LOG_LINE_MAX + 1] = '\0';
	cap_start();
	log_info("%s", big);
	is_string(cap_end(), line("info", want),
	    "message of LOG_LINE_MAX + 1 cut with ...");
	big[sizeof(big) - 1] = '\0';
	cap_start();
	log_info("%s and more %d", big, 42);
	is_string(cap_end(), line("info", want),
	    "long message cut with ...");
	/* A control character past the cut is gone, one before is replaced. */
	big[LOG_LINE_MAX - 4] = '\n';
	cap_start();
	log_info("%s", big);
	want[LOG_LINE_MAX - 4] = '?';
	is_string(cap_end(), line("info", want),
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
				log_write(LOG_INFO, "line %d %s", j, pad);
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
		if (sscanf(p, "log-t[%ld]: info: line %d %n", &lpid, &n,
		    &k) != 2) {
			good = 0;
			break;
		}
		util_snprintf(want, sizeof(want), "log-t[%ld]: info: "
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
	log_write(LOG_ERR, "m");
	log_open("log-t", LOG_DEST_STDERR, 0);
	{
		char want[128];

		util_snprintf(want, sizeof(want),
		    "a-very-long-program-name-that-g[%ld]: err: m\n",
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
	is_string(cap_end(), line("info", "back"),
	    "back on stderr after syslog");
}

static void
test_session(void)
{
	char id[LOG_SESSION_MAX], id2[LOG_SESSION_MAX], want[64];
	size_t i;
	int hex = 1;

	log_session_new(id, sizeof(id));
	log_session_new(id2, sizeof(id2));
	for (i = 0; id[i] != '\0'; i++)
		if (strchr("0123456789abcdef", id[i]) == NULL)
			hex = 0;
	ok(strlen(id) == 12 && hex, "session id: 12 hex digits (%s)", id);
	ok(strcmp(id, id2) != 0 && strncmp(id, id2, 6) == 0,
	    "two ids of one process differ, same second: %s %s", id, id2);

	log_set_session("4f2a9c01beef");
	cap_start();
	log_notice("end=quit user=alice");
	log_err("cannot open the maildrop");
	util_snprintf(want, sizeof(want), "%s", line("notice",
	    "session=4f2a9c01beef end=quit user=alice"));
	{
		char both[CAP_MAX];

		util_snprintf(both, sizeof(both), "%s%s", want, line("err",
		    "session=4f2a9c01beef cannot open the maildrop"));
		is_string(cap_end(), both, "every line carries session=ID");
	}
	log_set_session("0123456789abcdefXYZ");
	cap_start();
	log_info("x");
	is_string(cap_end(), line("info", "session=0123456789abcde x"),
	    "a long id is cut to LOG_SESSION_MAX - 1");
	log_set_session(NULL);
	cap_start();
	log_info("x");
	is_string(cap_end(), line("info", "x"), "NULL: no tag");
	log_set_session("");
	cap_start();
	log_info("y");
	is_string(cap_end(), line("info", "y"), "\"\": no tag");
}

/* "<N>" prefixes when JOURNAL_STREAM names stderr, and only then. */
static void
test_journal(void)
{
	struct stat st;
	char js[64], want[128];

	cap_start();
	if (fstat(STDERR_FILENO, &st) == -1)
		bail("fstat: %s", strerror(errno));
	util_snprintf(js, sizeof(js), "%llu:%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	log_open("log-t", LOG_DEST_STDERR, LOG_MAIL);
	log_warn("w");
	log_err("e");
	log_debug("dropped");
	util_snprintf(want, sizeof(want), "<4>%s", line("warning", "w"));
	util_snprintf(want + strlen(want), sizeof(want) - strlen(want),
	    "<3>%s", line("err", "e"));
	is_string(cap_end(), want, "JOURNAL_STREAM is stderr: <N> prefixes");

	cap_start();
	if (fstat(STDERR_FILENO, &st) == -1)
		bail("fstat: %s", strerror(errno));
	util_snprintf(js, sizeof(js), "%llu:%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino ^
	    0x5a5a);
	setenv("JOURNAL_STREAM", js, 1);
	log_open("log-t", LOG_DEST_STDERR, LOG_MAIL);
	log_notice("n");
	is_string(cap_end(), line("notice", "n"),
	    "JOURNAL_STREAM names another file: no prefix");

	cap_start();
	setenv("JOURNAL_STREAM", "not:numbers", 1);
	log_open("log-t", LOG_DEST_STDERR, LOG_MAIL);
	log_notice("n");
	is_string(cap_end(), line("notice", "n"),
	    "JOURNAL_STREAM garbage: no prefix");
	unsetenv("JOURNAL_STREAM");
	log_open("log-t", LOG_DEST_STDERR, 0);
}

static void
test_facility(void)
{
	static const struct {
		const char	*name;
		int		 fac;
	} good[] = {
		{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON },
		{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV },
		{ "user", LOG_USER }, { "local0", LOG_LOCAL0 },
		{ "local7", LOG_LOCAL7 }, { "LOCAL3", LOG_LOCAL3 },
	};
	static const char *const bad[] = {
		"", "mail ", "local8", "kern", "lpr", "news", "syslog", "23",
		"local", "mailx",
	};
	size_t i;
	int good_ok = 1, bad_ok = 1, names_ok = 1;

	for (i = 0; i < KP_NELEM(good); i++)
		if (log_facility_of(good[i].name) != good[i].fac) {
			diag("%s", good[i].name);
			good_ok = 0;
		}
	ok(good_ok, "facility names: mail, daemon, auth, authpriv, user, "
	    "local0-7, any case");
	for (i = 0; i < KP_NELEM(bad); i++)
		if (log_facility_of(bad[i]) != -1) {
			diag("'%s' accepted", bad[i]);
			bad_ok = 0;
		}
	ok(bad_ok, "other names refused");
	for (i = 0; i < 8; i++)
		if (log_facility_of(log_facility_name(LOG_LOCAL0 +
		    (int)i * 8)) != LOG_LOCAL0 + (int)i * 8)
			names_ok = 0;
	ok(names_ok && strcmp(log_facility_name(LOG_MAIL), "mail") == 0,
	    "log_facility_name gives the name back");
	ok(log_facility_name(LOG_KERN) == NULL, "no name for kern");

	/* To syslog with one facility, then another (a reload). */
	log_open("log-t", LOG_DEST_SYSLOG, LOG_MAIL);
	log_set_facility(LOG_LOCAL3);
	log_set_level(LOG_EMERG);
	log_err("not sent anywhere");
	log_set_level(LOG_INFO);
	log_open("log-t", LOG_DEST_STDERR, 0);
	log_set_facility(LOG_LOCAL4);
	cap_start();
	log_info("z");
	is_string(cap_end(), line("info", "z"),
	    "log_set_facility on stderr changes nothing there");
}

/* log_value into a heap block of exactly dstlen (ASan-checked). */
static void
val_is(const char *src, size_t dstlen, const char *want, const char *what)
{
	char *dst = malloc(dstlen > 0 ? dstlen : 1);
	size_t n;

	if (dst == NULL)
		bail("out of memory");
	n = log_value(dst, dstlen, src);
	if (n != strlen(want)) {
		ok(0, "%s", what);
		diag("returned %zu, wanted %zu", n, strlen(want));
	} else
		is_string(dst, want, "%s", what);
	free(dst);
}

static void
test_value(void)
{
	val_is("alice", 32, "alice", "log_value: a plain word");
	val_is("alice@KPOP.TEST", 32, "alice@KPOP.TEST", "@ and . kept");
	val_is("", 32, "-", "empty: -");
	val_is(NULL, 32, "-", "NULL: -");
	val_is("a b=c", 32, "a\\x20b\\x3dc", "blank and = escaped");
	val_is("x\"y'z\\", 32, "x\\x22y\\x27z\\x5c", "quotes, backslash");
	val_is("\t\r\n\x7f\xc3\xa9", 32, "\\x09\\x0d\\x0a\\x7f\\xc3\\xa9",
	    "control and 8-bit bytes escaped");
	val_is("end=quit user=root", 64, "end\\x3dquit\\x20user\\x3droot",
	    "a forged field stays one value");
	val_is("abcdefgh", 6, "ab...", "cut with ...");
	val_is("a b", 6, "a...", "escape not split");
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
	plan(72);

	log_open("log-t", LOG_DEST_STDERR, 0);
	test_format();
	test_levels();
	test_sanitize();
	test_errno();
	test_processes();
	test_open();
	test_session();
	test_journal();
	test_facility();
	test_value();
	test_printable();
	return 0;
}
