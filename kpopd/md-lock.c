/* SPDX-License-Identifier: MIT */
/*
 * kpopd/md-lock.c: the kpopd session lock of a maildrop (maildrop.h says
 * what callers must know): an fcntl lock on a file kept in place, the
 * takeover of a holder idle past md_opts.takeover_idle, the activity
 * that keeps a session from looking idle, and the list of maildrops this
 * process holds.  The backends take it in their open; maildrop.c
 * refreshes and releases it.
 *
 * Several servers may share the maildrops (NFS, a cluster file system):
 * the fcntl lock goes through the storage's lock manager, and the holder
 * writes "<pid> <host>\n" into the file, because the pid F_GETLK reports
 * for a lock of another host (where the storage reports one at all) means
 * nothing here.  A takeover signals only a holder that the file places on
 * this host, under the pid F_GETLK names; any other is in use.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "kpopd/md-int.h"

/*
 * The maildrops this process holds.  fcntl locks belong to the process,
 * so a second md_open() of the same maildrop here would "succeed" and
 * closing either would drop the lock of both: refuse it instead.  kpopd
 * is single-threaded; so is this list.
 */
static struct maildrop *md_held;

/* This host's name, as dotlocks carry it; "" if there is none. */
static void
md_lock_host(char *host, size_t len)
{
	if (gethostname(host, len) == -1)
		host[0] = '\0';
	host[len - 1] = '\0';
}

/*
 * Write "<pid> <host>\n" of this process into the lock file fd we hold.
 * Best effort: a file that does not say it names no holder, and no
 * takeover follows.
 */
static void
md_lock_record(int fd)
{
	char host[DOTLOCK_HOST_MAX], text[MD_LOCK_TEXT_MAX];
	int n;

	md_lock_host(host, sizeof(host));
	n = 0;
	if (host[0] != '\0' && strchr(host, '\n') == NULL &&
	    util_snprintf(text, sizeof(text), "%ld %s\n", (long)getpid(),
	    host) == 0)
		n = (int)strlen(text);
	if (n > 0 && util_write_all(fd, text, (size_t)n, 0) == -1)
		n = 0;
	(void)ftruncate(fd, n);
}

/*
 * Whether the holder of the lock file fd, which F_GETLK reports as pid,
 * is a process of this host: the file must say that pid and this host.
 * Copies the host the file names (or "?") to who.
 */
static int
md_lock_local(int fd, pid_t pid, char *who, size_t wholen)
{
	char host[DOTLOCK_HOST_MAX], text[MD_LOCK_TEXT_MAX];
	unsigned long long p;
	char *sp, *nl;
	ssize_t r;

	(void)util_strlcpy(who, "?", wholen);
	if ((r = util_pread_full(fd, text, sizeof(text) - 1, 0)) <= 0)
		return 0;
	text[r] = '\0';
	if ((nl = strchr(text, '\n')) == NULL ||
	    (sp = strchr(text, ' ')) == NULL || sp > nl)
		return 0;
	*nl = '\0';
	(void)log_printable(who, wholen, sp + 1, strlen(sp + 1));
	md_lock_host(host, sizeof(host));
	return util_parse_uint(text, (size_t)(sp - text), INT_MAX, &p) == 0 &&
	    (pid_t)p == pid && host[0] != '\0' && strcmp(sp + 1, host) == 0;
}

/* Milliseconds from a to b. */
static long long
md_ms_between(const struct timespec *a, const struct timespec *b)
{
	return ((long long)b->tv_sec - a->tv_sec) * 1000 +
	    (b->tv_nsec - a->tv_nsec) / 1000000;
}

int
md_lock_session(struct maildrop *md, int dfd, const char *name,
    const char *path, const struct md_opts *opts, char *err, size_t errlen)
{
	struct flock fl;
	struct stat st;
	struct timespec now;
	struct maildrop *h;
	char who[64];
	long long deadline = 0, idle_ms;
	int fd, e, rc, busy, killed = 0;

	fd = md_path_openat(dfd, name, O_RDWR | O_CREAT | O_NONBLOCK, 0600);
	if (fd == -1)
		return md_path_failed(dfd, name, path, errno, err, errlen);
	if (fstat(fd, &st) == -1) {
		e = errno;
		util_snprintf(err, errlen, "session lock %s: %s", path,
		    strerror(e));
		rc = KP_TEMP;
		goto fail;
	}
	if ((rc = md_path_check(&st, MD_K_FILE, opts, path, err, errlen)) !=
	    KP_OK)
		goto fail;
	for (h = md_held; h != NULL; h = h->held_next) {
		if (h->lock_dev == st.st_dev && h->lock_ino == st.st_ino) {
			util_snprintf(err, errlen, "maildrop already open in "
			    "this process");
			rc = KP_INUSE;
			goto fail;
		}
	}
	for (;;) {
		if ((busy = util_trylock(fd)) == 0)
			break;
		if (busy == -1) {
			e = errno;
			util_snprintf(err, errlen, "session lock %s: %s", path,
			    strerror(e));
			rc = KP_TEMP;
			goto fail;
		}
		if (killed) {
			if (util_now_ms() >= deadline) {
				util_snprintf(err, errlen, "in use: the idle "
				    "session did not let go");
				rc = KP_INUSE;
				goto fail;
			}
			util_sleep_ms(MD_LOCK_POLL_MS);
			continue;
		}
		if (opts->takeover_idle == 0) {
			util_snprintf(err, errlen, "in use by another session");
			rc = KP_INUSE;
			goto fail;
		}
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_GETLK, &fl) == -1 || fstat(fd, &st) == -1) {
			e = errno;
			util_snprintf(err, errlen, "session lock %s: %s", path,
			    strerror(e));
			rc = KP_TEMP;
			goto fail;
		}
		if (fl.l_type == F_UNLCK)
			continue;	/* let go meanwhile */
		(void)clock_gettime(CLOCK_REALTIME, &now);
		idle_ms = md_ms_between(&st.st_mtim, &now);
		if (idle_ms <= (long long)opts->takeover_idle * 1000 ||
		    fl.l_pid <= 0 || fl.l_pid == getpid()) {
			util_snprintf(err, errlen, "in use by another session "
			    "(pid %ld, idle %llds)", (long)fl.l_pid,
			    idle_ms / 1000);
			rc = KP_INUSE;
			goto fail;
		}
		if (!md_lock_local(fd, fl.l_pid, who, sizeof(who))) {
			util_snprintf(err, errlen, "in use by another session "
			    "(idle %llds, on host %s: only a kpopd there may "
			    "take it over)", idle_ms / 1000, who);
			rc = KP_INUSE;
			goto fail;
		}
		if (kill(fl.l_pid, SIGTERM) == -1 && errno != ESRCH) {
			e = errno;
			util_snprintf(err, errlen, "in use by pid %ld, which "
			    "cannot be taken over: %s", (long)fl.l_pid,
			    strerror(e));
			rc = KP_INUSE;
			goto fail;
		}
		killed = 1;
		deadline = util_now_ms() + MD_TAKEOVER_WAIT * 1000LL;
	}
	/* A fresh session is not idle, whatever the file said before. */
	md_lock_record(fd);
	(void)futimens(fd, NULL);
	md->lock_fd = fd;
	md->lock_dev = st.st_dev;
	md->lock_ino = st.st_ino;
	(void)clock_gettime(CLOCK_MONOTONIC, &md->touched);
	md->held_next = md_held;
	md_held = md;
	return KP_OK;
fail:
	(void)close(fd);
	return rc;
}

void
md_lock_touch(struct maildrop *md)
{
	struct timespec now;

	if (md->lock_fd == -1)
		return;
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if (md_ms_between(&md->touched, &now) < 1000)
		return;
	(void)futimens(md->lock_fd, NULL);
	md->touched = now;
}

void
md_lock_release(struct maildrop *md)
{
	struct maildrop **pp;

	if (md->lock_fd == -1)
		return;
	for (pp = &md_held; *pp != NULL; pp = &(*pp)->held_next) {
		if (*pp == md) {
			*pp = md->held_next;
			break;
		}
	}
	/* Closing drops the lock; the file stays for the next one. */
	(void)close(md->lock_fd);
	md->lock_fd = -1;
}
