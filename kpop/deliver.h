/* SPDX-License-Identifier: MIT */
/*
 * kpop/deliver.h: deliver one fetched message to a Maildir, an mbox, an
 * MDA command or standard output, durably, and check after a crash
 * whether an interrupted delivery landed.
 *
 * A message is fed as it arrives: the bytes the POP3 decoder hands out,
 * already un-stuffed and with LF line ends.  The calls go
 *
 *	dlv_open -> dlv_write ... -> [dlv_prepare] -> dlv_commit
 *
 * or dlv_abort at any point.  dlv_prepare is where a delivery becomes
 * known but has not happened yet: for an mbox the message is spooled,
 * both mbox locks are held and the offset, length and SHA-256 of the
 * bytes about to be appended are known, so the caller can journal them
 * (state.h) before dlv_commit writes a single byte; for a Maildir the
 * file is written and fsynced in tmp/ and its final name is known.
 * dlv_commit does dlv_prepare itself if the caller did not.
 *
 * What each target guarantees once dlv_commit returns KP_OK:
 *   Maildir  the file is in new/ and both it and new/ are fsynced.  Its
 *            name is <time>.K<token>.<host>,S=<size>, so that
 *            dlv_maildir_find() tells after a crash whether it landed.
 *   mbox     the mboxrd-quoted message, with a From_ line and a blank
 *            line after it, is appended under the dotlock and an fcntl
 *            lock, and fsynced; a failure midway truncates the mbox back.
 *   MDA      /bin/sh -c COMMAND read the message and exited 0.
 *   LMTP, SMTP the server answered 2xx to the end of the DATA (for
 *            LMTP, the recipient's reply); nothing is waited for
 *            after it.  A crash between sending the final "." (the
 *            server then commits) and reading that reply cannot be
 *            told from one before it (RFC 1047): recovery delivers
 *            again (state.h).
 *   stdout   the bytes were written (and fsynced where that means
 *            anything).
 * Nothing here prints or exits: errors come back as a status and a
 * message saying what failed, where, and why.
 */
#ifndef KPOP_DELIVER_H
#define KPOP_DELIVER_H

#include <sys/types.h>

#include <stddef.h>
#include <time.h>

#include "common/status.h"
#include "common/util.h"

/* A target's path or command: PATH_MAX on Linux. */
#define DLV_ARG_MAX		4096
/* A file name in a Maildir: NAME_MAX (255) and the NUL. */
#define DLV_NAME_MAX		256
/*
 * A delivery token: 1 to 64 of [0-9A-Za-z_-] (state.c makes 32 hex
 * digits).  It goes into Maildir file names, so it must be short and
 * free of '/', ':' and '.'.
 */
#define DLV_TOKEN_MAX		64
/* An envelope sender for the From_ line (RFC 5321 4.5.3.1.3: 256). */
#define DLV_SENDER_MAX		256
/* The copy and output buffer: large enough that a block is one write. */
#define DLV_BUF_SIZE		(64 * 1024)
/* An error message: room for a long path and strerror. */
#define DLV_ERR_MAX		1024
/* Default seconds to wait for a busy mbox (its dotlock or fcntl lock). */
#define DLV_LOCK_WAIT		30
/*
 * Milliseconds between tries for a busy fcntl lock (the dotlock's are
 * common/limits.h DOTLOCK_POLL_MS).
 */
#define DLV_LOCK_POLL_MS	50
/* A SHA-256 digest. */
#define DLV_SHA256_LEN		32
/*
 * Default seconds an LMTP/SMTP server may take to answer, or to take
 * what we write (RFC 5321 4.5.3.2 asks clients to wait 5 minutes for
 * most replies; a local server that takes longer is not coming back).
 */
#define DLV_SMTP_TIMEOUT	300
/* sysexits.h EX_TEMPFAIL: what MDAs exit with to say "try again later". */
#define DLV_EX_TEMPFAIL		75

/*
 * Most calls return an enum kp_status (common/status.h): KP_OK; KP_TEMP,
 * which may work later (disk full, lock busy, EX_TEMPFAIL, an MDA killed
 * by a signal); or KP_PERM, which will not work as configured (a bad
 * path, permissions, an MDA's other exit codes).  Both failures leave
 * nothing delivered.
 */

/* What dlv_mbox_check() finds at a journalled offset and length. */
#define DLV_ABSENT	0	/* none of the message is there */
#define DLV_PRESENT	1	/* all of it, byte for byte */
#define DLV_PARTIAL	2	/* the file ends inside it: a torn append */

enum dlv_kind {
	DLV_MAILDIR = 1,
	DLV_MBOX,
	DLV_MDA,
	DLV_STDOUT,
	DLV_LMTP,
	DLV_SMTP
};

/* A parsed target (dlv_parse). */
struct dlv_target {
	enum dlv_kind	 kind;
	char		 arg[DLV_ARG_MAX];	/* directory, file, command,
						   or "-" */
};

/* What a delivery needs to know about the message; strings are copied. */
struct dlv_info {
	const char	*uidl;		/* KPOP_UIDL for an MDA, or NULL */
	const char	*token;		/* required for Maildir; KPOP_TOKEN */
	const char	*sender;	/* envelope sender for the From_ line
					   and KPOP_SENDER, as hdr.h's
					   hdr_return_path checked it; "":
					   the null sender <> (KPOP_SENDER
					   empty); NULL: unknown (unset);
					   From_ line for both, or unusable:
					   MAILER-DAEMON */
	const char	*account;	/* KPOP_ACCOUNT for an MDA, or NULL */
	time_t		 when;		/* From_ date, Maildir time; 0: now */
	unsigned int	 lock_wait;	/* mbox lock wait, s; 0: default */
	const char	*recipient;	/* LMTP/SMTP: RCPT TO (required) */
	unsigned int	 timeout;	/* LMTP/SMTP: seconds any one read or
					   write may wait; 0: DLV_SMTP_TIMEOUT */
	char		*reply;		/* LMTP/SMTP: where the first line
					   of a 5xx reply that refuses the
					   message goes (printable), or
					   NULL; it must outlive the handle */
	size_t		 replylen;
};

/*
 * Where a message went or is going: everything a check after a crash
 * needs, and what a journal records (state.h).
 */
struct dlv_where {
	enum dlv_kind	 kind;
	char		 arg[DLV_ARG_MAX];	/* as in dlv_target */
	char		 token[DLV_TOKEN_MAX + 1];
	char		 name[DLV_NAME_MAX];	/* Maildir: the file in new/,
						   once prepared */
	unsigned long long size;		/* message bytes fed */
	int		 placed;		/* mbox: the three below set */
	unsigned long long offset;		/* mbox: appended bytes start */
	unsigned long long len;			/* ... and length */
	unsigned char	 sha256[DLV_SHA256_LEN];	/* ... and digest */
};

struct dlv;

/*
 * Parse a target: "maildir:DIR", "mbox:FILE", "mda:COMMAND",
 * "lmtp:HOST:PORT", "lmtp:/SOCKET", "smtp:HOST[:PORT]" (port 25; an
 * IPv6 address in brackets), "-" (standard output), a path ending in
 * "/" or naming an existing directory (Maildir), or a path naming an
 * existing regular file (mbox).
 * Anything else is refused as ambiguous.  Returns KP_OK or KP_PERM with
 * a message in err.
 */
int	dlv_parse(const char *spec, struct dlv_target *, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 3) KP_WUR;

/*
 * Whether a can go in LMTP/SMTP's MAIL FROM or RCPT TO: at most
 * DLV_SENDER_MAX bytes of printable ASCII, no blank, '<' or '>'.  The
 * empty string is allowed (<>, the null sender).
 */
int	dlv_smtp_address_ok(const char *a) KP_NONNULL(1);

/*
 * Whether kpop adds a Received: line for this kind of target when the
 * account does not say (received_header): 1 for an MDA (and the mail
 * transfer targets), 0 for Maildir, mbox and stdout.
 */
int	dlv_kind_wants_received(enum dlv_kind);

/* Whether token is a valid delivery token (see DLV_TOKEN_MAX). */
int	dlv_token_valid(const char *token) KP_NONNULL(1);

/*
 * Start delivering one message to t.  Maildir: creates DIR, tmp/, new/
 * and cur/ (mode 0700) if missing and opens the file in tmp/.  mbox:
 * opens a spool (an unlinked file in $TMPDIR or /tmp) and writes the
 * From_ line.  MDA: starts the command with a pipe on its standard input
 * and its standard output sent to our standard error, in its own process
 * group, with KPOP_UIDL, KPOP_TOKEN, KPOP_SENDER and KPOP_ACCOUNT set
 * (those that info gives).  LMTP/SMTP: connects, says LHLO or EHLO,
 * MAIL FROM (info->sender if usable, else <>), RCPT TO (info->recipient)
 * and DATA; a 4xx reply is KP_TEMP, a 5xx one KP_PERM.  Returns KP_OK
 * and a handle in *hp, which dlv_commit() or dlv_abort() frees; or
 * KP_TEMP/KP_PERM with err set.
 */
int	dlv_open(const struct dlv_target *t, const struct dlv_info *info,
	    struct dlv **hp, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 3, 4) KP_WUR;

/*
 * Feed len bytes of the message.  Returns KP_OK, or the failure, which
 * sticks: later calls return it again, and dlv_commit() reports it (with
 * its message, also in dlv_error()).  SIGPIPE from a vanished MDA or
 * reader of stdout does not kill the process; it is an error here.
 */
int	dlv_write(struct dlv *, const void *buf, size_t len)
	    KP_NONNULL(1) KP_WUR;

/* The message of the last failure, or "" (owned by the handle). */
const char *dlv_error(const struct dlv *) KP_NONNULL(1);

/*
 * Finish the message without delivering it yet, and fill *w: kind, arg,
 * token, size; Maildir: name (the file is written and fsynced in tmp/);
 * mbox: placed, offset, len, sha256 (the spool is complete and both mbox
 * locks are held until dlv_commit or dlv_abort).  MDA and stdout: only
 * flushes.  Returns KP_OK, or a failure with err set (the handle must
 * still be freed by dlv_commit or dlv_abort).
 */
int	dlv_prepare(struct dlv *, struct dlv_where *w, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 3) KP_WUR;

/*
 * Deliver: dlv_prepare() if not done, then make the message durable
 * where it goes (see the top of this file), fill *w as dlv_prepare
 * does, and free the handle.  Returns KP_OK, or KP_TEMP/KP_PERM with
 * err set and nothing delivered (the Maildir tmp file removed, the mbox
 * truncated back; an MDA decided for itself).
 */
int	dlv_commit(struct dlv *, struct dlv_where *w, char *err,
	    size_t errlen) KP_NONNULL(1, 2, 3) KP_WUR;

/*
 * Give up: remove the Maildir tmp file, release the mbox locks (nothing
 * was appended), or kill the MDA's process group with SIGKILL before it
 * sees the end of its input (so it delivers nothing half-read) and reap
 * it.  Frees the handle; NULL is allowed.
 */
void	dlv_abort(struct dlv *);

/*
 * Look for the message delivered with token in the Maildir dir: a file
 * in new/ or cur/ (where a mail reader may have added ":2,FLAGS") whose
 * name has "K<token>" as its second dot-separated part.  Returns 1 and
 * its name in name (of namelen, may be 0), 0 if there is none, or
 * KP_TEMP/KP_PERM with err set.
 */
int	dlv_maildir_find(const char *dir, const char *token, char *name,
	    size_t namelen, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 5) KP_WUR;

/*
 * Check the mbox at path for the len bytes a dlv_prepare() placed at
 * offset with digest sha256.  Returns DLV_PRESENT (the file holds them
 * there), DLV_PARTIAL (it ends inside them, and what is there starts
 * as our appends do, with "From " or a torn part of it: an interrupted
 * append), DLV_ABSENT (anything else: the
 * append never started, or the file was rewritten since), or
 * KP_TEMP/KP_PERM with err set.  Takes no lock: bytes once appended
 * and fsynced do not move under appenders.
 */
int	dlv_mbox_check(const char *path, unsigned long long offset,
	    unsigned long long len, const unsigned char *sha256, char *err,
	    size_t errlen) KP_NONNULL(1, 4, 5) KP_WUR;

/*
 * Remove an interrupted append of len bytes at offset, under both mbox
 * locks (waiting up to lock_wait seconds, 0: DLV_LOCK_WAIT).  The file
 * is truncated to offset only when it ends inside the append (its size
 * is below offset + len) and the bytes from offset on are one message
 * of ours (a From_ line and no other): then nobody appended after it.
 * Returns KP_OK (truncated, or nothing of it there), KP_PERM if other
 * mail follows (the file is left alone; err says so), or KP_TEMP.
 */
int	dlv_mbox_unappend(const char *path, unsigned long long offset,
	    unsigned long long len, unsigned int lock_wait, char *err,
	    size_t errlen) KP_NONNULL(1, 5) KP_WUR;

#ifdef KPOP_TEST_HOOKS
/*
 * Tests only: called before each fsync a delivery makes (dlv-io.c),
 * with what it syncs ("file", "dir", "mbox"); a non-zero errno value makes that
 * fsync fail with it.
 */
extern int (*dlv_test_fsync)(const char *what);
#endif

#endif
