/* SPDX-License-Identifier: MIT */
/*
 * kpopd/mbox-int.h: what the files of the mbox backend share, private to
 * them: the backend's state (struct mbox), and the calls between its
 * files.  mbox.c is the backend (md_mbox: the snapshot and its parser)
 * and calls the others; mbox-commit.c rewrites the file at QUIT and
 * recovers an interrupted rewrite; mbox-lock.c takes the MDA locks, in
 * the mbox's directory and spool group, for both.  mbox-lock.c calls
 * neither of the others, mbox-commit.c not mbox.c.
 */
#ifndef KPOPD_MBOX_INT_H
#define KPOPD_MBOX_INT_H

#include <sys/types.h>

#include <stdint.h>

#include "common/dotlock.h"
#include "kpopd/md-int.h"

struct mbox_msg {
	off_t		 from_off;	/* the From_ line */
	off_t		 msg_off;	/* the message, after the From_ line */
	off_t		 msg_len;
	off_t		 range_end;	/* next From_ line, or snap_end */
	uint64_t	 from_hash;	/* FNV-1a of the From_ line */
};

/*
 * Files are named relative to the mbox's directory, dirfd, opened
 * without following a symlink the user planted (md_path_resolve): *at
 * calls on dirfd, and the path calls (the dotlock's, the journal's) in
 * between mbox_lock_enter() and mbox_lock_leave(), with dirfd as the
 * working directory.
 */
struct mbox {
	char		*path;		/* for messages */
	char		*name;		/* <name> */
	int		 dirfd;
	struct md_opts	 opts;
	char		*jpath;		/* .<name>.kpopd-journal */
	char		*jtmp;		/* ... .tmp */
	unsigned int	 lock_timeout;
	struct md_spool	 spool;		/* for writes in dir */
	int		 exists;	/* the mbox was there at open */
	dev_t		 dev;
	ino_t		 ino;
	off_t		 snap_end;
	struct mbox_msg	*msgs;
	size_t		 n;
	struct dotlock	 dl;		/* <mbox>.lock, while held */
	unsigned char	*buf;		/* MD_BUF_SIZE, for copies */
};

/* ---- mbox-lock.c: the MDA locks ---- */

/*
 * Make the spool group the effective gid (on 1), or the real gid again
 * (on 0), if sp->ok.  Around the steps that create or remove files in an
 * mbox's directory only.  Entering may fail (the step then fails with
 * EACCES as it would have); leaving cannot, and aborts if it does.
 */
void	mbox_lock_spool(const struct md_spool *sp, int on) KP_NONNULL(1);

/*
 * Take the MDA locks and open the mbox read-write in *fdp.  A missing
 * mbox gives KP_OK with *fdp = -1 (the dotlock still held).  On failure
 * nothing is held.  In the mbox's directory (mbox_lock_enter).
 */
int	mbox_lock_take(struct mbox *mb, int *fdp, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 3) KP_WUR;

/* Release the MDA locks (closing the mbox drops the fcntl lock). */
void	mbox_lock_drop(struct mbox *mb, int *fdp) KP_NONNULL(1, 2);

/*
 * Make the mbox's directory the working directory, so that the path
 * calls (the dotlock's, the journal's) name files in it.  Returns a
 * descriptor of the old one for mbox_lock_leave(), -1 if there was none
 * to go back to, or -2 with err set.
 */
int	mbox_lock_enter(struct mbox *mb, char *err, size_t errlen)
	    KP_NONNULL(1, 2) KP_WUR;

/* Go back to the working directory of before mbox_lock_enter(). */
void	mbox_lock_leave(int old);

/* ---- mbox-commit.c: the rewrite at QUIT and its journal ---- */

/*
 * Finish or undo an interrupted commit (see mbox-commit.c).  fd is the
 * mbox, locked, or -1 if it is missing; in the mbox's directory, with the
 * spool group.  Returns KP_OK or a status with err set (the journal is
 * then left for the next try).
 */
int	mbox_commit_recover(struct mbox *mb, int fd, char *err, size_t errlen)
	    KP_NONNULL(1, 3) KP_WUR;

/* The backend's commit (struct md_backend). */
int	mbox_commit(struct maildrop *md, const unsigned char *del, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 3) KP_WUR;

#ifdef KPOP_TEST_HOOKS
/*
 * Tests only (never in kpopd): called at each numbered step of an mbox
 * commit or journal recovery (see mbox-commit.c).  It may kill the
 * process there, or return an errno value to make that step fail; 0 goes
 * on.
 */
extern int (*mbox_test_step)(int step);
#define MBOX_STEP(n)	(mbox_test_step != NULL ? mbox_test_step(n) : 0)
#else
#define MBOX_STEP(n)	((void)(n), 0)
#endif

#endif
