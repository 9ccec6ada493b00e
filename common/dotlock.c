/* SPDX-License-Identifier: MIT */
/*
 * common/dotlock.c: the mbox dotlock of dotlock.h: taken by link() of a
 * temporary file written whole, stale locks broken without racing other
 * breakers, refreshed and removed only while it is ours.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/dotlock.h"
#include "common/limits.h"
#include "common/util.h"

/* Record errno e for what in dl and err; returns its status. */
static int
dotlock_fail(struct dotlock *dl, int e, const char *what, char *err,
    size_t errlen)
{
	dl->errnum = e;
	(void)util_snprintf(err, errlen, "dotlock %s: %s", what, strerror(e));
	switch (e) {
	case EACCES:
	case EPERM:
	case EROFS:
		return KP_PERM;
	case ENOENT:
	case ENOTDIR:
		return KP_GONE;
	default:
		return KP_TEMP;
	}
}

/* Whether the files a and b describe are the same, unchanged since. */
static int
dotlock_same(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Whether the name dl->path still leads to our lock's inode. */
static int
dotlock_ours(const struct dotlock *dl)
{
	struct stat a, b;

	return fstat(dl->fd, &a) == 0 && lstat(dl->path, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * The pid and host a lock's text (NUL-terminated; edited) names:
 * "<pid> <program> <host>\n" as ours, "<pid>:<host>" as Dovecot's.  A
 * bare "<pid>\n" (liblockfile's) gives *host NULL: from some host.
 * Returns 0, or -1 when it names no pid.
 */
static int
dotlock_parse(char *text, unsigned long long *pid, const char **host)
{
	char *p, *sp;
	size_t n;

	if ((p = strchr(text, '\n')) != NULL)
		*p = '\0';
	n = strspn(text, "0123456789");
	if (util_parse_uint(text, n, INT_MAX, pid) == -1 || *pid == 0)
		return -1;
	p = text + n;
	*host = NULL;
	if (*p == ':')
		*host = p + 1;
	else if (*p == ' ') {
		if ((sp = strchr(p + 1, ' ')) != NULL &&
		    strchr(sp + 1, ' ') == NULL)
			*host = sp + 1;
	} else if (*p != '\0')
		return -1;
	if (*host != NULL && **host == '\0')
		*host = NULL;
	return 0;
}

/*
 * Whether a process may hold an fcntl lock on file: 0 surely not (or
 * there is no file), 1 if one does or we cannot tell.  Opens file and
 * closes it again, reading nothing (its atime stays).
 */
static int
dotlock_file_locked(const char *file)
{
	struct flock fl;
	struct stat st;
	int fd, held = 1;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY)) == -1)
		return errno == ENOENT ? 0 : 1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_UNLCK)
		held = 0;
	(void)close(fd);
	return held;
}

/*
 * Look at the lock someone else holds at dl->path (for file) and remove
 * it if it is stale (dotlock.h says when), by its age at now (the
 * storage's clock: dotlock_now).  Breakers of one inode take
 * turns by flock(2) on it, and each removes the name only while it still
 * leads to the file it judged, unchanged (a refresh is a change).
 * Returns 1 if the name was freed (by us, or it is gone), 0 if the lock
 * stands.
 */
static int
dotlock_break(const struct dotlock *dl, const char *file, const char *host,
    time_t now)
{
	char text[DOTLOCK_TEXT_MAX];
	struct stat st, again;
	unsigned long long pid;
	const char *who;
	time_t age;
	ssize_t r;
	int fd, stale = 0, freed = 0;

	if (lstat(dl->path, &st) == -1)
		return errno == ENOENT;
	/* Judge the inode we can read (a FIFO must not block the open). */
	if ((fd = open(dl->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK | O_NOCTTY)) != -1 && fstat(fd, &st) == -1) {
		(void)close(fd);
		return 0;
	}
	age = now - st.st_mtime;
	if (age > DOTLOCK_STALE)
		stale = 1;
	else if (!S_ISREG(st.st_mode))
		stale = 0;
	else if (st.st_size == 0)
		stale = age > DOTLOCK_EMPTY_STALE && !dotlock_file_locked(file);
	else if (fd != -1 &&
	    (r = util_pread_full(fd, text, sizeof(text) - 1, 0)) > 0) {
		text[r] = '\0';
		stale = dotlock_parse(text, &pid, &who) == 0 && who != NULL &&
		    strcmp(who, host) == 0 && kill((pid_t)pid, 0) == -1 &&
		    errno == ESRCH;
	}
	if (!stale)
		goto out;
	/* Where flock works (not on some NFS mounts): one breaker at once. */
	if (fd != -1 && flock(fd, LOCK_EX | LOCK_NB) == -1 &&
	    errno == EWOULDBLOCK)
		goto out;
	if (lstat(dl->path, &again) == -1)
		freed = errno == ENOENT;
	else if (dotlock_same(&st, &again))
		freed = unlink(dl->path) == 0 || errno == ENOENT;
	else
		freed = 1;	/* another lock now: try for it at once */
out:
	if (fd != -1)
		(void)close(fd);
	return freed;
}

/*
 * The storage's time now, from our own temporary file fd, stamped now:
 * the lock's mtime was stamped by the same clock (the file server's, on
 * NFS), which another host's clock need not agree with.  time(NULL) if
 * the file cannot tell.
 */
static time_t
dotlock_now(int fd)
{
	struct stat st;

	if (futimens(fd, NULL) == -1 || fstat(fd, &st) == -1)
		return time(NULL);
	return st.st_mtime;
}

void
dotlock_init(struct dotlock *dl)
{
	dl->path[0] = dl->tmp[0] = '\0';
	dl->fd = -1;
	dl->touched = 0;
	dl->errnum = 0;
}

int
dotlock_take(struct dotlock *dl, const char *file, const char *prog,
    long long deadline, char *err, size_t errlen)
{
	char host[DOTLOCK_HOST_MAX], safe[DOTLOCK_TMP_HOST + 1];
	char text[DOTLOCK_TEXT_MAX];
	struct stat st;
	const char *slash;
	size_t dlen, i;
	unsigned int breaks = 0;
	int fd, e, rc;

	if (dl->fd != -1 || *prog == '\0' ||
	    strlen(prog) >= DOTLOCK_PROG_MAX || strpbrk(prog, " :\n") != NULL)
		return dotlock_fail(dl, EINVAL, file, err, errlen);
	if (gethostname(host, sizeof(host)) == -1)
		return dotlock_fail(dl, errno, "gethostname", err, errlen);
	host[sizeof(host) - 1] = '\0';
	for (i = 0; i < DOTLOCK_TMP_HOST && host[i] != '\0'; i++)
		safe[i] = host[i] == '/' ? '_' : host[i];
	safe[i] = '\0';
	slash = strrchr(file, '/');
	dlen = slash == NULL ? 0 : (size_t)(slash - file) + 1;
	if (dlen > INT_MAX ||
	    util_snprintf(dl->path, sizeof(dl->path), "%s.lock", file) == -1 ||
	    util_snprintf(dl->tmp, sizeof(dl->tmp), "%.*s.dotlock.%s.%ld",
	    (int)dlen, file, safe, (long)getpid()) == -1)
		return dotlock_fail(dl, ENAMETOOLONG, file, err, errlen);
	if (util_snprintf(text, sizeof(text), "%ld %s %s\n", (long)getpid(),
	    prog, host) == -1)
		return dotlock_fail(dl, EOVERFLOW, "text", err, errlen);

	/* A name of ours left by an earlier process with our pid. */
	if (unlink(dl->tmp) == -1 && errno != ENOENT)
		return dotlock_fail(dl, errno, dl->tmp, err, errlen);
	if ((fd = open(dl->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW | O_NOCTTY, 0644)) == -1)
		return dotlock_fail(dl, errno, dl->tmp, err, errlen);
	if (util_write_all(fd, text, strlen(text), -1) == -1) {
		rc = dotlock_fail(dl, errno, dl->tmp, err, errlen);
		goto fail;
	}
	for (;;) {
		if (link(dl->tmp, dl->path) == 0)
			break;
		e = errno;
		/* NFS: the link happened but its reply was lost. */
		if (fstat(fd, &st) == 0 && st.st_nlink == 2)
			break;
		if (e != EEXIST) {
			rc = dotlock_fail(dl, e, dl->path, err, errlen);
			goto fail;
		}
		if (dotlock_break(dl, file, host, dotlock_now(fd)) &&
		    breaks++ < DOTLOCK_BREAKS_MAX)
			continue;
		if (util_now_ms() >= deadline) {
			dl->errnum = EEXIST;
			(void)util_snprintf(err, errlen, "%s is locked by "
			    "another program (dotlock %s)", file, dl->path);
			rc = KP_INUSE;
			goto fail;
		}
		util_sleep_ms(DOTLOCK_POLL_MS);
	}
	(void)unlink(dl->tmp);
	/* fd is the lock's inode now: futimens(fd) refreshes it. */
	dl->fd = fd;
	dl->touched = util_now_ms();
	dl->errnum = 0;
	return KP_OK;
fail:
	(void)close(fd);
	(void)unlink(dl->tmp);
	return rc;
}

int
dotlock_refresh(struct dotlock *dl)
{
	long long now;

	if (dl->fd == -1)
		return -1;
	now = util_now_ms();
	if (now - dl->touched < DOTLOCK_REFRESH * 1000LL)
		return 0;
	dl->touched = now;
	if (!dotlock_ours(dl) || futimens(dl->fd, NULL) == -1)
		return -1;
	return 0;
}

int
dotlock_release(struct dotlock *dl)
{
	int rc = -1;

	if (dl->fd == -1)
		return -1;
	if (dotlock_ours(dl) && unlink(dl->path) == 0)
		rc = 0;
	(void)close(dl->fd);
	dl->fd = -1;
	return rc;
}
