/* SPDX-License-Identifier: MIT */
/*
 * kpopd/mbox-lock.c: the locks mail delivery agents honour on an mbox,
 * as on Debian (Policy 11.6): the dotlock <mbox>.lock (common/dotlock.c:
 * linked into place whole, refreshed while we work, stale ones broken,
 * such as one a kpopd killed during a commit left), then an fcntl write
 * lock on the mbox.  Both are tried without blocking until
 * opts->lock_timeout, so the order cannot deadlock.  The dotlock is made
 * by path in the mbox's directory (mbox_lock_enter) with the spool group
 * (mbox_lock_spool).  The backend (mbox.c) takes them while it reads the
 * snapshot, the commit (mbox-commit.c) while it rewrites the file.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/dotlock.h"
#include "common/limits.h"
#include "common/util.h"
#include "kpopd/mbox-int.h"

/*
 * Make the spool group the effective gid (on 1), or the real gid again
 * (on 0), if sp->ok.  Around the steps that create or remove files in an
 * mbox's directory only.  Entering may fail (the step then fails with
 * EACCES as it would have); leaving cannot, and aborts if it does.
 */
void
mbox_lock_spool(const struct md_spool *sp, int on)
{
	if (!sp->ok)
		return;
	if (on) {
		/* A failure shows as EACCES in the step that needed it. */
		if (setegid(sp->gid) == -1)
			return;
	} else if (setegid(getgid()) == -1)
		abort();	/* the real gid is always allowed */
}

/*
 * One of the MDA locks is taken by another program: wait a poll interval
 * and return KP_OK to try again, or, once the deadline (lock_timeout from
 * the first try) has passed, KP_TEMP with err set.  what names the lock.
 */
static int
mbox_lock_wait(struct mbox *mb, long long deadline, const char *what,
    char *err, size_t errlen)
{
	if (util_now_ms() >= deadline) {
		util_snprintf(err, errlen, "%s is locked by another program "
		    "(%s)", mb->path, what);
		return KP_TEMP;
	}
	util_sleep_ms(MD_LOCK_POLL_MS);
	return KP_OK;
}

/*
 * Take the MDA locks and open the mbox read-write in *fdp.  A missing
 * mbox gives KP_OK with *fdp = -1 (the dotlock still held).  On failure
 * nothing is held.
 */
int
mbox_lock_take(struct mbox *mb, int *fdp, char *err, size_t errlen)
{
	struct stat st;
	long long deadline;
	int fd = -1, e, rc, busy;

	*fdp = -1;
	deadline = util_now_ms() + (long long)mb->lock_timeout * 1000;
	mbox_lock_spool(&mb->spool, 1);
	rc = dotlock_take(&mb->dl, mb->name, "kpopd", deadline, err, errlen);
	mbox_lock_spool(&mb->spool, 0);
	if (rc != KP_OK)
		return rc == KP_INUSE ? KP_TEMP :
		    kp_status_errno(mb->dl.errnum);
	if ((fd = md_path_openat(mb->dirfd, mb->name, O_RDWR | O_NONBLOCK,
	    0)) == -1) {
		e = errno;
		if (e == ENOENT)
			return KP_OK;
		rc = md_path_failed(mb->dirfd, mb->name, mb->path, e, err,
		    errlen);
		goto fail;
	}
	if (fstat(fd, &st) == -1) {
		e = errno;
		util_snprintf(err, errlen, "%s: %s", mb->path, strerror(e));
		rc = KP_TEMP;
		goto fail;
	}
	if ((rc = md_path_check(&st, MD_K_FILE, &mb->opts, mb->path, err,
	    errlen)) != KP_OK)
		goto fail;
	while ((busy = util_trylock(fd)) != 0) {
		if (busy == -1) {
			e = errno;
			util_snprintf(err, errlen, "lock %s: %s", mb->path,
			    strerror(e));
			rc = KP_TEMP;
			goto fail;
		}
		if ((rc = mbox_lock_wait(mb, deadline, "fcntl", err,
		    errlen)) != KP_OK)
			goto fail;
	}
	*fdp = fd;
	return KP_OK;
fail:
	if (fd != -1)
		(void)close(fd);
	mbox_lock_spool(&mb->spool, 1);
	(void)dotlock_release(&mb->dl);
	mbox_lock_spool(&mb->spool, 0);
	return rc;
}

/* Release the MDA locks (closing the mbox drops the fcntl lock). */
void
mbox_lock_drop(struct mbox *mb, int *fdp)
{
	if (*fdp != -1) {
		(void)close(*fdp);
		*fdp = -1;
	}
	mbox_lock_spool(&mb->spool, 1);
	(void)dotlock_release(&mb->dl);
	mbox_lock_spool(&mb->spool, 0);
}

/*
 * Make the mbox's directory the working directory, so that the path
 * calls below (the dotlock's, the journal's) name files in it.  Returns
 * a descriptor of the old one for mbox_lock_leave(), -1 if there was none to
 * go back to, or -2 with err set.
 */
int
mbox_lock_enter(struct mbox *mb, char *err, size_t errlen)
{
	int old, e;

	old = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fchdir(mb->dirfd) == -1) {
		e = errno;
		if (old != -1)
			(void)close(old);
		util_snprintf(err, errlen, "%s: cannot enter its directory: %s",
		    mb->path, strerror(e));
		return -2;
	}
	return old;
}

void
mbox_lock_leave(int old)
{
	if (old == -2)
		return;
	if (old == -1 || fchdir(old) == -1) {
		if (chdir("/") == -1)
			abort();	/* "/" is always there */
	}
	if (old >= 0)
		(void)close(old);
}
