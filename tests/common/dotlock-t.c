/* SPDX-License-Identifier: MIT */
/*
 * tests/common/dotlock-t.c: tests for common/dotlock.c, on real files and
 * real processes: a lock is taken whole and released; a missing
 * directory, an unwritable one and a held lock give distinct statuses; a
 * live holder makes a taker wait until its deadline and no longer;
 * processes contending for one lock never hold it together; a lock whose
 * holder on this host is dead is broken at once, also by many breakers at
 * the same instant; an empty lock (a locker killed between creating and
 * writing it) is broken after DOTLOCK_EMPTY_STALE, not DOTLOCK_STALE, but
 * not while someone holds the file's fcntl lock; foreign locks (another
 * host, a bare pid) are broken only by age; a refresh renews the mtime; a
 * lock that is no longer ours is neither refreshed nor removed; ages are
 * the storage's, not those of a host whose clock is off (faketime).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/dotlock.h"
#include "common/limits.h"
#include "common/util.h"
#include "tap/basic.h"
#include "tap/files.h"

/* Processes and rounds of the contention tests. */
#define KIDS		4
#define ROUNDS		40
#define BREAK_ROUNDS	20

static const char *scratch;
static char host[256];

/* ---- helpers ---- */

/* name in the scratch directory. */
static const char *
in_scratch(const char *name)
{
	return t_path(scratch, name);
}

static void
put_file(const char *path, const char *text)
{
	int fd;

	(void)unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644)) == -1 ||
	    util_write_all(fd, text, strlen(text), -1) == -1 ||
	    close(fd) == -1)
		bail("%s: %s", path, strerror(errno));
}

static int
has_text(const char *path, const char *want)
{
	char buf[DOTLOCK_TEXT_MAX];
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return 0;
	r = util_pread_full(fd, buf, sizeof(buf) - 1, 0);
	(void)close(fd);
	if (r < 0)
		return 0;
	buf[r] = '\0';
	return strcmp(buf, want) == 0;
}

static int
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Set path's mtime (and atime) to secs seconds ago. */
static void
age(const char *path, time_t secs)
{
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - secs;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == -1)
		bail("utimensat %s: %s", path, strerror(errno));
}

/* Names in the scratch directory that are temporary files of ours. */
static int
tmp_left(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(scratch)) == NULL)
		bail("opendir: %s", strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, ".dotlock.", 9) == 0)
			n++;
	(void)closedir(d);
	return n;
}

/* A pid that is surely gone: a child, reaped. */
static pid_t
dead_pid(void)
{
	pid_t pid;

	if ((pid = fork()) == -1)
		bail("fork: %s", strerror(errno));
	if (pid == 0)
		_exit(0);
	(void)t_wait_exit(pid);
	return pid;
}

/* Take the lock of file for up to ms; the status. */
static int
take(struct dotlock *dl, const char *file, long long ms, char *err,
    size_t errlen)
{
	dotlock_init(dl);
	return dotlock_take(dl, file, "test", util_now_ms() + ms, err, errlen);
}

/* Fork fn(arg, ready); returns once it wrote a byte to ready. */
static pid_t
start(void (*fn)(const char *, int), const char *arg)
{
	char c;
	int p[2];
	pid_t pid;

	if (pipe(p) == -1 || (pid = fork()) == -1)
		bail("pipe/fork: %s", strerror(errno));
	if (pid == 0) {
		(void)close(p[0]);
		fn(arg, p[1]);
		_exit(0);
	}
	(void)close(p[1]);
	if (read(p[0], &c, 1) != 1)
		bail("child failed to start");
	(void)close(p[0]);
	return pid;
}

/* Child: take the lock of file, say so, and sleep until killed. */
static void
holder(const char *file, int ready)
{
	struct dotlock dl;
	char err[256];

	if (take(&dl, file, 1000, err, sizeof(err)) != KP_OK)
		_exit(2);
	if (write(ready, "x", 1) != 1)
		_exit(3);
	for (;;)
		(void)pause();
}

/* Child: take the lock of file, say so, let it go 300 ms later. */
static void
brief_holder(const char *file, int ready)
{
	struct dotlock dl;
	char err[256];

	if (take(&dl, file, 1000, err, sizeof(err)) != KP_OK)
		_exit(2);
	if (write(ready, "x", 1) != 1)
		_exit(3);
	util_sleep_ms(300);
	_exit(dotlock_release(&dl) == 0 ? 0 : 4);
}

/* Child: hold an fcntl write lock on file until killed. */
static void
fcntl_holder(const char *file, int ready)
{
	struct flock fl;
	int fd;

	if ((fd = open(file, O_RDWR | O_CREAT, 0600)) == -1)
		_exit(2);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) == -1 || write(ready, "x", 1) != 1)
		_exit(3);
	for (;;)
		(void)pause();
}

/*
 * Child: take the lock as kpop did before common/dotlock.c, with O_EXCL,
 * and be killed before writing the pid into it.
 */
static void
old_kpop(const char *file)
{
	char lock[PATH_MAX];

	(void)util_snprintf(lock, sizeof(lock), "%s.lock", file);
	if (open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644) == -1)
		_exit(2);
	(void)raise(SIGKILL);
	_exit(4);
}

/*
 * In a child: the critical section under the lock of file, rounds times.
 * A marker made with O_EXCL proves nobody else is inside; a counter read,
 * slept on and written back proves no increment is lost.  Exits 0, or
 * non-zero with what went wrong.
 */
static void
worker(const char *file, int go, int rounds)
{
	char err[256], buf[32];
	const char *mark = in_scratch("inside"), *count = in_scratch("count");
	struct dotlock dl;
	unsigned long long n;
	ssize_t r;
	char c;
	int i, fd, len;

	/* Wait for the go: EOF on the pipe. */
	if (go != -1 && read(go, &c, 1) == -1)
		_exit(9);
	for (i = 0; i < rounds; i++) {
		if (take(&dl, file, 20000, err, sizeof(err)) != KP_OK)
			_exit(2);
		if ((fd = open(mark, O_WRONLY | O_CREAT | O_EXCL, 0644)) == -1)
			_exit(3);	/* someone else is inside */
		(void)close(fd);
		if ((fd = open(count, O_RDWR | O_CREAT, 0644)) == -1 ||
		    (r = util_pread_full(fd, buf, sizeof(buf), 0)) < 0)
			_exit(4);
		n = 0;
		if (r > 0 && util_parse_uint(buf, (size_t)r, 1000000, &n) == -1)
			_exit(5);
		util_sleep_ms(2);
		len = snprintf(buf, sizeof(buf), "%llu", n + 1);
		if (util_write_all(fd, buf, (size_t)len, 0) == -1 ||
		    close(fd) == -1 || unlink(mark) == -1)
			_exit(6);
		if (dotlock_release(&dl) != 0)
			_exit(7);
	}
	_exit(0);
}

/* ---- tests ---- */

static void
test_basic(void)
{
	char err[256], want[DOTLOCK_TEXT_MAX];
	const char *mb = in_scratch("mbox"), *lock = in_scratch("mbox.lock");
	struct dotlock dl;
	long long t0;

	is_int(take(&dl, mb, 0, err, sizeof(err)), KP_OK,
	    "a free lock is taken on the first try (%s)", err);
	(void)util_snprintf(want, sizeof(want), "%ld test %s\n",
	    (long)getpid(), host);
	ok(has_text(lock, want), "it says <pid> <program> <host>");
	is_int(tmp_left(), 0, "no temporary file is left");
	is_int(dotlock_refresh(&dl), 0, "refresh: nothing to do yet");
	is_int(dotlock_release(&dl), 0, "release");
	ok(!exists(lock), "... removes the lock");
	is_int(dotlock_release(&dl), -1, "a second release does nothing");

	/* A relative path: the temporary file goes to the same directory. */
	if (chdir(scratch) == -1)
		bail("chdir: %s", strerror(errno));
	is_int(take(&dl, "rel", 0, err, sizeof(err)), KP_OK,
	    "a relative path (%s)", err);
	ok(exists(in_scratch("rel.lock")) && tmp_left() == 0,
	    "... locks rel.lock in the same directory");
	is_int(dotlock_release(&dl), 0, "... and releases it");
	if (chdir("/") == -1)
		bail("chdir /");

	/* Already past the deadline: one try, then BUSY. */
	is_int(take(&dl, mb, 0, err, sizeof(err)), KP_OK, "take again");
	{
		struct dotlock two;

		t0 = util_now_ms();
		is_int(take(&two, mb, -1000, err, sizeof(err)), KP_INUSE,
		    "our own live lock, deadline passed: BUSY at once");
		ok(util_now_ms() - t0 < 500, "... without waiting");
		ok(strstr(err, "locked") != NULL && strstr(err, mb) != NULL,
		    "... the message names the file (%s)", err);
		is_int(two.errnum, EEXIST, "... errnum EEXIST");
	}
	is_int(dotlock_release(&dl), 0, "release");
	is_int(tmp_left(), 0, "no temporary file is left");
}

static void
test_statuses(void)
{
	char err[256], ro[PATH_MAX];
	struct dotlock dl;
	pid_t pid;

	is_int(take(&dl, in_scratch("nodir/mbox"), 0, err, sizeof(err)),
	    KP_GONE, "a missing directory: KP_GONE (%s)", err);
	is_int(dl.errnum, ENOENT, "... errnum ENOENT");
	put_file(in_scratch("plain"), "");
	is_int(take(&dl, in_scratch("plain/mbox"), 0, err, sizeof(err)),
	    KP_GONE, "a file for a directory: KP_GONE (%s)",
	    err);
	is_int(dl.errnum, ENOTDIR, "... errnum ENOTDIR");

	/* A directory we may not write: as nobody when we are root. */
	(void)util_strlcpy(ro, in_scratch("ro"), sizeof(ro));
	if (mkdir(ro, 0755) == -1 || chmod(scratch, 0755) == -1)
		bail("mkdir %s: %s", ro, strerror(errno));
	if ((pid = fork()) == -1)
		bail("fork");
	if (pid == 0) {
		struct passwd *pw;
		int rc;

		if (geteuid() == 0) {
			if ((pw = getpwnam("nobody")) == NULL ||
			    setgroups(0, NULL) == -1 ||
			    setgid(pw->pw_gid) == -1 ||
			    setuid(pw->pw_uid) == -1)
				_exit(10);
		} else if (chmod(ro, 0555) == -1)
			_exit(11);
		rc = take(&dl, in_scratch("ro/mbox"), 0, err, sizeof(err));
		if (rc != KP_PERM)
			_exit(20 - rc);
		_exit(dl.errnum == EACCES ? 0 : 30);
	}
	is_int(t_wait_exit(pid), 0, "an unwritable directory: KP_PERM, "
	    "errnum EACCES");
	ok(!exists(in_scratch("ro/mbox.lock")), "... and no lock there");

	/* A lock taken: BUSY, distinct from the others. */
	pid = start(holder, in_scratch("busy"));
	is_int(take(&dl, in_scratch("busy"), 100, err, sizeof(err)),
	    KP_INUSE, "a held lock: KP_INUSE (%s)", err);
	is_int(dl.errnum, EEXIST, "... errnum EEXIST");
	(void)kill(pid, SIGKILL);
	(void)t_wait_exit(pid);
}

static void
test_live_holder(void)
{
	char err[256];
	const char *mb = in_scratch("live"), *lock = in_scratch("live.lock");
	struct dotlock dl;
	long long t0, took;
	pid_t pid;

	pid = start(holder, mb);
	t0 = util_now_ms();
	is_int(take(&dl, mb, 700, err, sizeof(err)), KP_INUSE,
	    "a live holder on this host: BUSY");
	took = util_now_ms() - t0;
	ok(took >= 700 && took < 700 + 500,
	    "... after waiting until the deadline (%lld ms of 700)", took);
	ok(exists(lock), "... its lock is left alone");
	is_int(tmp_left(), 0, "... and no temporary file of ours");

	(void)kill(pid, SIGKILL);
	(void)t_wait_exit(pid);
	(void)unlink(lock);

	/* Released while we wait: we get it then. */
	pid = start(brief_holder, mb);
	t0 = util_now_ms();
	is_int(take(&dl, mb, 5000, err, sizeof(err)), KP_OK,
	    "the holder lets go while we wait: taken (%s)", err);
	took = util_now_ms() - t0;
	ok(took >= 250 && took < 2000, "... soon after (%lld ms)", took);
	is_int(t_wait_exit(pid), 0, "... the holder released its own");
	is_int(dotlock_release(&dl), 0, "release");
}

static void
test_contention(void)
{
	const char *mb = in_scratch("shared");
	pid_t kids[KIDS];
	char buf[32];
	unsigned long long n = 0;
	int i, bad = 0, fd;
	ssize_t r = 0;

	for (i = 0; i < KIDS; i++) {
		if ((kids[i] = fork()) == -1)
			bail("fork");
		if (kids[i] == 0)
			worker(mb, -1, ROUNDS);
	}
	for (i = 0; i < KIDS; i++) {
		int rc = t_wait_exit(kids[i]);

		if (rc != 0) {
			diag("worker %d: exit %d", i, rc);
			bad++;
		}
	}
	is_int(bad, 0, "%d processes x %d rounds: never two inside at once",
	    KIDS, ROUNDS);
	if ((fd = open(in_scratch("count"), O_RDONLY)) != -1) {
		r = util_pread_full(fd, buf, sizeof(buf), 0);
		(void)close(fd);
	}
	if (r > 0 && util_parse_uint(buf, (size_t)r, 1000000, &n) == -1)
		n = 0;
	is_int((long long)n, KIDS * ROUNDS, "no increment lost");
	ok(!exists(in_scratch("shared.lock")) && tmp_left() == 0,
	    "no lock and no temporary file left");
	(void)unlink(in_scratch("count"));
}

static void
test_dead(void)
{
	char err[256], text[DOTLOCK_TEXT_MAX];
	const char *mb = in_scratch("dead"), *lock = in_scratch("dead.lock");
	struct dotlock dl;
	long long t0;
	pid_t pid;

	/* A real holder, killed. */
	pid = start(holder, mb);
	(void)kill(pid, SIGKILL);
	(void)t_wait_exit(pid);
	ok(exists(lock), "a holder killed with SIGKILL leaves its lock");
	t0 = util_now_ms();
	is_int(take(&dl, mb, 5000, err, sizeof(err)), KP_OK,
	    "its lock is broken (%s)", err);
	ok(util_now_ms() - t0 < 500, "... at once");
	is_int(dotlock_release(&dl), 0, "release");

	/* Another program's, Dovecot's form. */
	(void)util_snprintf(text, sizeof(text), "%ld:%s", (long)dead_pid(),
	    host);
	put_file(lock, text);
	t0 = util_now_ms();
	is_int(take(&dl, mb, 5000, err, sizeof(err)), KP_OK,
	    "a dead \"<pid>:<host>\" lock is broken (%s)", err);
	ok(util_now_ms() - t0 < 500, "... at once");
	is_int(dotlock_release(&dl), 0, "release");

	/* The same pid on another host: only age breaks it. */
	(void)util_snprintf(text, sizeof(text), "%ld kpop elsewhere.invalid\n",
	    (long)dead_pid());
	put_file(lock, text);
	is_int(take(&dl, mb, 200, err, sizeof(err)), KP_INUSE,
	    "a fresh lock of another host is left alone");
	ok(has_text(lock, text), "... untouched");
	age(lock, DOTLOCK_STALE + 10);
	is_int(take(&dl, mb, 200, err, sizeof(err)), KP_OK,
	    "... until it is older than DOTLOCK_STALE (%s)", err);
	is_int(dotlock_release(&dl), 0, "release");

	/* A bare pid: from some host. */
	(void)util_snprintf(text, sizeof(text), "%ld\n", (long)dead_pid());
	put_file(lock, text);
	is_int(take(&dl, mb, 200, err, sizeof(err)), KP_INUSE,
	    "a fresh bare-pid lock is left alone");
	age(lock, DOTLOCK_STALE - 10);
	is_int(take(&dl, mb, 200, err, sizeof(err)), KP_INUSE,
	    "... still at DOTLOCK_STALE - 10 s");
	age(lock, DOTLOCK_STALE + 10);
	is_int(take(&dl, mb, 200, err, sizeof(err)), KP_OK,
	    "... broken past DOTLOCK_STALE (%s)", err);
	is_int(dotlock_release(&dl), 0, "release");

	/* A live process of this host that stopped refreshing: age. */
	(void)util_snprintf(text, sizeof(text), "%ld kpop %s\n",
	    (long)getppid(), host);
	put_file(lock, text);
	is_int(take(&dl, mb, 200, err, sizeof(err)), KP_INUSE,
	    "a live process's fresh lock is left alone");
	age(lock, DOTLOCK_STALE + 10);
	is_int(take(&dl, mb, 200, err, sizeof(err)), KP_OK,
	    "... but not once it is older than DOTLOCK_STALE (%s)", err);
	is_int(dotlock_release(&dl), 0, "release");
	is_int(tmp_left(), 0, "no temporary file left");
}

static void
test_empty(void)
{
	char err[256];
	const char *mb = in_scratch("empty"), *lock = in_scratch("empty.lock");
	struct dotlock dl;
	struct stat st;
	long long t0;
	pid_t pid;

	/* kpop before common/dotlock.c, killed between O_EXCL and write. */
	pid = fork();
	if (pid == 0)
		old_kpop(mb);
	is_int(t_wait_exit(pid), 1000 + SIGKILL, "an old kpop is killed "
	    "holding its lock");
	ok(lstat(lock, &st) == 0 && st.st_size == 0, "... which is empty");
	is_int(take(&dl, mb, 200, err, sizeof(err)), KP_INUSE,
	    "a fresh empty lock is left alone (its locker may be writing)");
	age(lock, DOTLOCK_EMPTY_STALE + 2);
	t0 = util_now_ms();
	is_int(take(&dl, mb, 5000, err, sizeof(err)), KP_OK,
	    "empty for DOTLOCK_EMPTY_STALE (%d s), not DOTLOCK_STALE "
	    "(%d s): broken (%s)", DOTLOCK_EMPTY_STALE, DOTLOCK_STALE, err);
	ok(util_now_ms() - t0 < 500, "... at once");
	is_int(dotlock_release(&dl), 0, "release");

	/* The same while a locker holds the mbox's fcntl lock: its own. */
	put_file(mb, "From x\n\nmail\n");
	pid = start(fcntl_holder, mb);
	put_file(lock, "");
	age(lock, DOTLOCK_EMPTY_STALE + 2);
	is_int(take(&dl, mb, 200, err, sizeof(err)), KP_INUSE,
	    "an old empty lock while the mbox is fcntl-locked: left alone");
	ok(exists(lock), "... untouched");
	(void)kill(pid, SIGKILL);
	(void)t_wait_exit(pid);
	is_int(take(&dl, mb, 200, err, sizeof(err)), KP_OK,
	    "... broken once the fcntl lock went (%s)", err);
	is_int(dotlock_release(&dl), 0, "release");
}

static void
test_breakers(void)
{
	char text[DOTLOCK_TEXT_MAX];
	const char *mb = in_scratch("race"), *lock = in_scratch("race.lock");
	pid_t kids[KIDS];
	int round, i, bad = 0, go[2];

	for (round = 0; round < BREAK_ROUNDS; round++) {
		(void)util_snprintf(text, sizeof(text), "%ld kpop %s\n",
		    (long)dead_pid(), host);
		put_file(lock, text);
		if (pipe(go) == -1)
			bail("pipe");
		for (i = 0; i < KIDS; i++) {
			if ((kids[i] = fork()) == -1)
				bail("fork");
			if (kids[i] == 0) {
				(void)close(go[1]);
				worker(mb, go[0], 1);
			}
		}
		(void)close(go[0]);
		/* All start at once: EOF on the pipe. */
		(void)close(go[1]);
		for (i = 0; i < KIDS; i++) {
			int rc = t_wait_exit(kids[i]);

			if (rc != 0) {
				diag("round %d, breaker %d: exit %d", round,
				    i, rc);
				bad++;
			}
		}
	}
	is_int(bad, 0, "%d rounds of %d processes breaking one dead lock "
	    "at once: one at a time inside", BREAK_ROUNDS, KIDS);
	ok(!exists(lock) && tmp_left() == 0, "no lock and no temporary file "
	    "left");
	(void)unlink(in_scratch("count"));
}

static void
test_ours(void)
{
	char err[256], text[DOTLOCK_TEXT_MAX];
	const char *mb = in_scratch("ours"), *lock = in_scratch("ours.lock");
	struct dotlock dl;
	struct stat st;

	/* A refresh renews the mtime of a lock that is getting old. */
	is_int(take(&dl, mb, 0, err, sizeof(err)), KP_OK, "take");
	age(lock, DOTLOCK_STALE - 20);
	is_int(dotlock_refresh(&dl), 0, "refresh within DOTLOCK_REFRESH");
	ok(lstat(lock, &st) == 0 && time(NULL) - st.st_mtime > 60,
	    "... does not touch the lock");
	dl.touched -= DOTLOCK_REFRESH * 1000LL;
	is_int(dotlock_refresh(&dl), 0, "refresh after DOTLOCK_REFRESH");
	ok(lstat(lock, &st) == 0 && time(NULL) - st.st_mtime < 5,
	    "... renews its mtime");

	/* Broken as stale and taken by another meanwhile. */
	(void)util_snprintf(text, sizeof(text), "%ld other %s\n",
	    (long)getppid(), host);
	put_file(lock, text);
	dl.touched -= DOTLOCK_REFRESH * 1000LL;
	is_int(dotlock_refresh(&dl), -1, "a lock replaced under us: refresh "
	    "says it is lost");
	ok(has_text(lock, text), "... and the other lock is untouched");
	is_int(dotlock_release(&dl), -1, "release: not ours");
	ok(has_text(lock, text), "... the other lock stays");
	(void)unlink(lock);

	/* Removed under us. */
	is_int(take(&dl, mb, 0, err, sizeof(err)), KP_OK, "take");
	(void)unlink(lock);
	is_int(dotlock_release(&dl), -1, "release of a removed lock: -1");
	ok(!exists(lock), "... nothing made");
}

/*
 * With --take FILE: take FILE's dotlock for 200 ms and exit 10 (held),
 * 11 (in use) or 12; 13 if this process's clock is not an hour ahead of
 * the file system's (faketime did not take).  (Not 1: ASan's.)
 */
static int
skew_take(const char *file)
{
	struct dotlock d;
	struct stat st;
	char err[256];
	int rc;

	if (stat(file, &st) == -1 || time(NULL) - st.st_mtime < 3000)
		return 13;
	dotlock_init(&d);
	rc = dotlock_take(&d, file, "kpop", util_now_ms() + 200, err,
	    sizeof(err));
	if (rc == KP_OK)
		(void)dotlock_release(&d);
	return rc == KP_OK ? 10 : rc == KP_INUSE ? 11 : 12;
}

/*
 * Several hosts on one NFS store: a host whose clock is an hour ahead of
 * the file server's (faketime) must not find another host's fresh lock
 * an hour old.  Ages are the storage's.
 */
static void
test_skew(const char *self)
{
	char text[128];
	const char *mb = in_scratch("skew"), *lock = in_scratch("skew.lock");
	pid_t pid;

	put_file(mb, "");
	(void)util_snprintf(text, sizeof(text), "%ld kpop elsewhere.invalid\n",
	    (long)dead_pid());
	put_file(lock, text);
	if ((pid = fork()) == -1)
		bail("fork: %s", strerror(errno));
	if (pid == 0) {
		(void)setenv("NO_FAKE_STAT", "1", 1);
		(void)setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1);
		/* Set, empty: futimens(fd, NULL) keeps the kernel's time. */
		(void)setenv("FAKE_UTIME", "", 1);
		/* Under ASan, libfaketime is preloaded before its runtime. */
		t_asan_allow_preload();
		execlp("faketime", "faketime", "-f", "+1h", self, "--take", mb,
		    (char *)NULL);
		_exit(127);
	}
	is_int(t_wait_exit(pid), 11, "a host an hour ahead of the storage "
	    "leaves another host's fresh lock alone (11: in use)");
	ok(has_text(lock, text), "... untouched");
	(void)unlink(lock);
}

int
main(int argc, char **argv)
{
	char self[PATH_MAX];
	ssize_t n;
	int fd0;

	if (argc == 3 && strcmp(argv[1], "--take") == 0)
		return skew_take(argv[2]);
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		bail("readlink /proc/self/exe: %s", strerror(errno));
	self[n] = '\0';
	plan_lazy();
	fd0 = t_lowest_fd();
	scratch = t_scratch("dotlock-t");
	if (gethostname(host, sizeof(host)) == -1)
		bail("gethostname: %s", strerror(errno));
	host[sizeof(host) - 1] = '\0';
	test_basic();
	test_statuses();
	test_live_holder();
	test_contention();
	test_dead();
	test_empty();
	test_breakers();
	test_ours();
	test_skew(self);
	is_int(t_lowest_fd(), fd0, "no descriptor leaked");
	t_scratch_done();
	return 0;
}
