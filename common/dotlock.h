/* SPDX-License-Identifier: MIT */
/*
 * common/dotlock.h: the dotlock <file>.lock that mail programs take on an
 * mbox (Debian Policy 11.6), made once here for kpop's delivery and
 * kpopd's maildrop.
 *
 * Ours is written whole under a temporary name in the file's directory,
 * .dotlock.<host>.<pid>, and then linked into place, so that it is never
 * seen empty or half written: it says "<pid> <program> <host>\n".
 *
 * A lock someone else holds is broken, and taken, when it is stale:
 *   - it names a process on this host that is gone: at once;
 *   - it is empty (a locker killed between creating and writing it, or
 *     one that writes nothing), unchanged for DOTLOCK_EMPTY_STALE seconds,
 *     and nobody holds an fcntl lock on the file: a live locker writes its
 *     pid or takes that lock within moments;
 *   - it is unchanged for DOTLOCK_STALE seconds, whoever made it (a lock
 *     from another host, one without a pid, a live process that stopped
 *     refreshing it, or a pid reused since).
 * Ages are told by the storage's clock (the mtime our own temporary file
 * gets when stamped now), never by this host's, which on NFS need not
 * agree with the file server's that stamped the lock.
 * Breakers serialize on a flock(2) of the stale file and remove it only
 * while the name still leads to the inode they judged, so two of them
 * cannot remove each other's fresh lock.  A holder refreshes its lock's
 * mtime during long work (dotlock_refresh) and removes only a lock that is
 * still its own (dotlock_release).
 *
 * Nothing here prints: failures come back as a status and a message in the
 * caller's err buffer.
 */
#ifndef KPOP_DOTLOCK_H
#define KPOP_DOTLOCK_H

#include <limits.h>

#include "common/status.h"
#include "common/util.h"

/*
 * dotlock_take() returns an enum kp_status (common/status.h):
 *   KP_OK     held
 *   KP_INUSE  held by another past the deadline (EEXIST)
 *   KP_PERM   no right to write the directory (EACCES, EPERM, EROFS)
 *   KP_GONE   the directory is missing (ENOENT, ENOTDIR)
 *   KP_TEMP   anything else: errnum says what
 */

/* One dotlock.  The caller owns it; dotlock_init() before any other use. */
struct dotlock {
	char		 path[PATH_MAX];	/* <file>.lock */
	char		 tmp[PATH_MAX];		/* ours, before the link */
	int		 fd;		/* our lock's inode while held, or -1 */
	long long	 touched;	/* CLOCK_MONOTONIC ms of the last
					   refresh */
	int		 errnum;	/* the errno behind the last failure */
};

/* Make dl an unheld lock. */
void	dotlock_init(struct dotlock *dl) KP_NONNULL(1);

/*
 * Take the dotlock of file for program prog (a word such as "kpop"),
 * breaking a stale one, and trying every DOTLOCK_POLL_MS until deadline
 * (CLOCK_MONOTONIC, in milliseconds; at least one try is made).  Take it
 * before any fcntl lock of file: judging an empty lock opens file, and
 * closing that descriptor would drop this process's fcntl locks on it.
 * Returns KP_OK (held: release it with dotlock_release), or another
 * status above with dl->errnum and a message in err.
 */
int	dotlock_take(struct dotlock *dl, const char *file, const char *prog,
	    long long deadline, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 3, 5) KP_WUR;

/*
 * During long work: at most every DOTLOCK_REFRESH seconds, set our lock's
 * mtime to now, so that nobody finds it stale.  Returns 0, or -1 if the
 * lock is not held or the name no longer leads to it (someone broke it).
 */
int	dotlock_refresh(struct dotlock *dl) KP_NONNULL(1);

/*
 * Let the lock go: remove <file>.lock if it is still ours (the same
 * inode), and close it.  Returns 0, or -1 if it was not held or was no
 * longer ours (the file there was left alone).
 */
int	dotlock_release(struct dotlock *dl) KP_NONNULL(1);

#endif
