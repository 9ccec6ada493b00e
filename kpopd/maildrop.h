/* SPDX-License-Identifier: MIT */
/*
 * kpopd/maildrop.h: one interface over the two maildrop formats kpopd
 * serves, Maildir and mbox.
 *
 * A session opens its maildrop once, after login, as the mail user:
 * md_open() takes the session lock (exclusive among kpopd sessions; a
 * second one gets KP_INUSE), reads a snapshot of the messages there now,
 * and returns it.  The snapshot never changes during the session: mail
 * delivered meanwhile is left alone and shows up next session.  Each
 * message has its size as POP3 sends it (CRLF line ends, no stuffing,
 * common/pop3.h's octet count) and a UIDL that stays the same across
 * sessions, restarts and mbox rewrites.  md_msg_fd() gives a descriptor
 * and byte range for RETR/TOP, to be handed to the net process.
 * md_commit() applies the deletions at QUIT, crash-safely.  md_close()
 * releases everything without deleting anything.
 *
 * What the caller must know:
 * - The session lock is an fcntl lock on a file kept in place: Maildir
 *   <maildir>/kpopd.lock, mbox <dir>/.<name>.kpopd.lock.  It belongs to
 *   the process: it dies with it (no stale locks), is not inherited by
 *   fork(), and closing any other descriptor of that file would drop
 *   it.  So open one maildrop per process, in the process that keeps
 *   it (the session monitor), and do not fork between md_open() and the
 *   end of the session expecting the child to hold it.  A second
 *   md_open() of the same maildrop in one process is KP_INUSE.
 * - The lock file says "<pid> <host>" of its holder; a takeover happens
 *   only when that is a process of this host (md-lock.c).
 * - Takeover (md_opts.takeover_idle) sends the holder SIGTERM.  The
 *   holder must treat SIGTERM as a dropped connection: end the session
 *   without md_commit() (a commit already running may finish; it is
 *   crash-safe either way) and exit, within MD_TAKEOVER_WAIT seconds.
 * - mbox: the MDA locks (dotlock <mbox>.lock, fcntl on the mbox) are held
 *   only inside md_open() and md_commit(), never between calls, so
 *   delivery goes on during a session.  md_commit() may write
 *   .<name>.kpopd-journal next to the mbox.  Descriptors from
 *   md_msg_fd() are plain read-only descriptors; close them when done.
 * - Trust: md_open() follows symlinks only in the first opts->trusted
 *   bytes of the path; every name below is opened without following
 *   one and must belong to the euid (md-path.c, md_path_check).  What
 *   fails that is KP_PERM, before anything is created; message files
 *   that fail it are left out (opts->note says which).
 * - Permissions: run as the mail user.  Maildir: write access to the
 *   Maildir (kpopd.lock, kpopd.cache, kpopd.cache.tmp), new/ and cur/.
 *   mbox: read-write access to the mbox and write access to its
 *   directory, for the dotlock, the session lock and the journal; on
 *   Debian /var/mail is root:mail 2775, so the process needs group mail
 *   for those steps, as MUAs get it through their setgid dotlock
 *   helpers: md_opts.spool names it, as the saved set-group-ID, and the
 *   mbox backend makes it the effective gid around exactly those steps.
 */
#ifndef KPOPD_MAILDROP_H
#define KPOPD_MAILDROP_H

#include <sys/types.h>

#include "common/limits.h"
#include "common/status.h"
#include "common/util.h"

enum md_format { MD_MAILDIR, MD_MBOX };

struct md_msg {
	unsigned long long	size;		/* POP3 octets */
	char			uidl[POP3_UIDL_MAX + 1];
};

/*
 * The spool group: the saved set-group-ID of an mbox session, made the
 * effective gid only while files are created or removed in the mbox's
 * directory (see mbox_lock_spool in mbox-lock.c).  ok 0: none, nothing
 * switched.
 */
struct md_spool {
	int		ok;
	gid_t		gid;
};

struct md_opts {
	/*
	 * Seconds to wait for an MDA's lock (dotlock, fcntl) on an mbox
	 * before giving up with KP_TEMP.
	 */
	unsigned int	lock_timeout;
	/*
	 * When the maildrop is held by another kpopd session that has been
	 * idle (no md_touch()) for longer than this many seconds, take it
	 * over: the holder is sent SIGTERM and the open waits for its lock
	 * (up to MD_TAKEOVER_WAIT seconds, then KP_INUSE).  0 never takes
	 * over.  Idleness is the age of the lock file's mtime, which
	 * md_touch() refreshes at most once a second.
	 */
	unsigned int	takeover_idle;
	/*
	 * A maildrop that does not exist: Maildir, create it (and a missing
	 * new, cur or tmp); mbox, an empty maildrop (the file is left to
	 * the MDA to create).  0: KP_PERM ("no such maildrop"), with
	 * nothing created, for a server that must not serve users whose
	 * mail lives elsewhere (kpopd.conf create_maildrop).
	 */
	int		create;
	struct md_spool	spool;
	/*
	 * How many bytes at the start of path the administrator chose (a
	 * home directory from passwd, a spool directory that does not
	 * depend on the user): symbolic links there are followed.  Every
	 * component after it is opened without following one, checked
	 * (md-path.c, md_path_check) and used through its descriptor.  0:
	 * the directory part of path (all before its last '/').
	 */
	size_t		trusted;
	/*
	 * The mail user's own private group (Debian's user groups): a
	 * maildrop directory writable by that group is accepted, by any
	 * other group refused.  group_ok 0: none.
	 */
	int		group_ok;
	gid_t		own_gid;
	/*
	 * The uidl_format setting (kpopd.conf(5), md_uidfmt_setting in
	 * md-int.h): NULL or "filename" for the base names, "dovecot:..."
	 * or "dovecot-saved" for Dovecot's UIDLs.  Maildir only.
	 */
	const char	*uidl_format;
	/* Told, if set, why a message file was left out of the snapshot. */
	void		(*note)(const char *);
};

struct maildrop;

/*
 * Open the maildrop of the given format at path (already expanded: no
 * %u left) and take its snapshot.  Returns KP_OK with *mdp set (free with
 * md_close()), or KP_INUSE, KP_TEMP, KP_PERM with a message in err.
 */
int	md_open(enum md_format, const char *path, const struct md_opts *,
	    struct maildrop **mdp, char *err, size_t errlen)
	    KP_NONNULL(2, 3, 4, 5) KP_WUR;

/* Messages in the snapshot. */
size_t	md_count(const struct maildrop *) KP_NONNULL(1);

/* Message i (0-based, below md_count()); NULL past the end. */
const struct md_msg *md_msg(const struct maildrop *, size_t i)
	    KP_NONNULL(1);

/* Total POP3 octets of the snapshot (for STAT before any DELE). */
unsigned long long md_total(const struct maildrop *) KP_NONNULL(1);

/*
 * Open message i for reading: *fdp is a new read-only descriptor (the
 * caller closes it), and the message is the *lenp bytes from offset
 * *offp (for Maildir the whole file; for mbox the message without its
 * From_ line and separator).  Those bytes, run through pop3_enc, give
 * exactly md_msg(i)->size octets (for a Maildir name with ",W=", the size
 * is that field, trusted as Dovecot writes it).  A Maildir message moved
 * or reflagged by another program is found by its base name.  Returns
 * KP_OK, KP_GONE (deleted, or the mbox replaced or truncated, behind our
 * back), or KP_TEMP with a message in err.
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
 * message not deleted intact, and the mbox never half-written (the next
 * md_open undoes an interrupted rewrite, or completes one that had
 * written everything and only lacked its cleanup).  Mail delivered
 * during the session is kept.  Returns KP_OK or KP_TEMP (nothing deleted,
 * e.g. disk full, or the mbox was changed by another program in a way
 * that makes the snapshot wrong) with a message in err.  For Maildir,
 * where each deletion is one unlink, KP_TEMP means some deletions failed
 * (the others are done; no message is ever damaged); a message already
 * gone is not an error.
 */
int	md_commit(struct maildrop *, const unsigned char *del, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 3) KP_WUR;

/* Release the lock and free; deletes nothing. */
void	md_close(struct maildrop *);

#endif
