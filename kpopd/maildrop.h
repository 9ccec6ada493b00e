/*
 * kpopd/maildrop.h: one interface over the two maildrop formats kpopd
 * serves, Maildir and mbox.
 *
 * A session opens its maildrop once, after login, as the mail user:
 * md_open() takes the session lock (exclusive among kpopd sessions; a
 * second one gets MD_INUSE), reads a snapshot of the messages there now,
 * and returns it.  The snapshot never changes during the session: mail
 * delivered meanwhile is left alone and shows up next session.  Each
 * message has its size as POP3 sends it (CRLF line ends, no stuffing,
 * common/pop3.h's octet count) and a UIDL that stays the same across
 * sessions, restarts and mbox rewrites.  md_msg_fd() gives a descriptor
 * and byte range for RETR/TOP, to be handed to the net process.
 * md_commit() applies the deletions at QUIT, crash-safely.  md_close()
 * releases everything without deleting anything.
 */
#ifndef KPOPD_MAILDROP_H
#define KPOPD_MAILDROP_H

#include <sys/types.h>

#include "common/limits.h"
#include "common/util.h"

enum md_format { MD_MAILDIR, MD_MBOX };

enum md_status {
	MD_OK = 0,
	MD_INUSE = -1,		/* another session holds it: [IN-USE] */
	MD_TEMP = -2,		/* a transient failure: [SYS/TEMP] */
	MD_PERM = -3,		/* a permanent one (bad path, not a
				   maildrop, no permission): [SYS/PERM] */
	MD_GONE = -4		/* md_msg_fd: the message vanished */
};

struct md_msg {
	unsigned long long	size;		/* POP3 octets */
	char			uidl[POP3_UIDL_MAX + 1];
};

struct md_opts {
	/*
	 * Seconds to wait for an MDA's lock (dotlock, fcntl) on an mbox
	 * before giving up with MD_TEMP.
	 */
	unsigned int	lock_timeout;
	/*
	 * When the maildrop is held by another kpopd session that has been
	 * idle (no md_touch()) for longer than this many seconds, take it
	 * over: the holder is sent SIGTERM and the open waits for its lock
	 * (bounded).  0 never takes over.
	 */
	unsigned int	takeover_idle;
	/* Create a missing Maildir (new, cur, tmp) instead of MD_PERM. */
	int		create;
};

struct maildrop;

/*
 * Open the maildrop of the given format at path (already expanded: no
 * %u left) and take its snapshot.  Returns MD_OK with *mdp set (free with
 * md_close()), or MD_INUSE, MD_TEMP, MD_PERM with a message in err.
 */
int	md_open(enum md_format, const char *path, const struct md_opts *,
	    struct maildrop **mdp, char *err, size_t errlen)
	    KP_NONNULL(2, 3, 4, 5) KP_WUR;

/* Messages in the snapshot. */
size_t	md_count(const struct maildrop *) KP_NONNULL(1);

/* Message i (0-based, below md_count()). */
const struct md_msg *md_msg(const struct maildrop *, size_t i)
	    KP_NONNULL(1);

/* Total POP3 octets of the snapshot (for STAT before any DELE). */
unsigned long long md_total(const struct maildrop *) KP_NONNULL(1);

/*
 * Open message i for reading: *fdp is a new read-only descriptor (the
 * caller closes it), and the message is the *lenp bytes from offset
 * *offp (for Maildir the whole file; for mbox the message without its
 * From_ line and separator).  Those bytes, run through pop3_enc, give
 * exactly md_msg(i)->size octets.  Returns MD_OK, MD_GONE (deleted
 * behind our back), or MD_TEMP with a message in err.
 */
int	md_msg_fd(struct maildrop *, size_t i, int *fdp, off_t *offp,
	    off_t *lenp, char *err, size_t errlen) KP_NONNULL(1, 3, 4, 5, 6)
	    KP_WUR;

/*
 * Note activity, so the session is not taken over as idle.  Cheap enough
 * to call on every command.
 */
void	md_touch(struct maildrop *) KP_NONNULL(1);

/*
 * UPDATE state: delete the messages whose del[i] is non-zero (del has
 * md_count() entries).  Crash-safe: a kill -9 at any instant leaves every
 * message not deleted intact, and the mbox never half-written (an
 * interrupted rewrite is undone at the next md_open).  Mail delivered
 * during the session is kept.  Returns MD_OK or MD_TEMP (nothing deleted,
 * e.g. disk full, or the mbox was changed by another program in a way
 * that makes the snapshot wrong) with a message in err.
 */
int	md_commit(struct maildrop *, const unsigned char *del, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 3) KP_WUR;

/* Release the lock and free; deletes nothing. */
void	md_close(struct maildrop *);

#endif
