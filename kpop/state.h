/* SPDX-License-Identifier: MIT */
/*
 * kpop/state.h: what kpop knows about the messages of one POP3 account,
 * kept so that each message is delivered exactly once across crashes,
 * and the lock that gives the account to one kpop run at a time.
 *
 * The fetch loop, for each message the server lists:
 *
 *	st_get == ST_UNKNOWN, or ST_DELETED (the server lists the UIDL
 *	    of a message it deleted again: RFC 1939 s.7 lets it, and what
 *	    it lists now is new mail):
 *	    st_token, st_intent(where: kind, target, token)   fsynced
 *	    dlv_open, dlv_write..., dlv_prepare
 *	    mbox: st_intent again (where now has offset/len/sha256)
 *	    dlv_commit
 *	    st_delivered                                       fsynced
 *	    DELE (or, with --keep, st_kept)
 *	st_get == ST_DELIVERED or ST_KEPT: not fetched again; DELE unless
 *	    --keep
 *	QUIT +OK: st_deleted for every message DELEted
 *	end of run: st_compact with the server's UIDL list
 *
 * and before the loop, st_recover (an intent whose outcome a crash hid is
 * checked where it was going) and st_changed (refuse to fetch everything
 * again when the server's UIDLs changed wholesale, unless --force).
 *
 * On disk, in the account's directory (st_open):
 *	lock	 fcntl-locked for the whole run; holds the holder's pid
 *	state	 the snapshot: records that rebuild every entry
 *	journal	 append-only records since the snapshot, each fsynced
 * A record is one line: fields separated by one space, then a CRC-32 of
 * the text before it as 8 lowercase hex digits, then LF.  A final record
 * that lacks its LF or does not match its CRC is a write torn by a crash:
 * it is ignored and cut off (it was never reported durable); a bad record
 * anywhere else is corruption and fails st_open.  The snapshot starts
 * "S <generation>", the journal "J <generation>"; a journal older than the
 * snapshot was already folded into it (a crash during compaction) and is
 * dropped.  Records (strings percent-encoded, "-" for none):
 *	I <uidl> <where>	intent (ST_PENDING)
 *	D <uidl> [<where>]	delivered (ST_DELIVERED)
 *	K <uidl>		kept on the server (ST_KEPT)
 *	X <uidl>		deleted on the server (ST_DELETED)
 *	F <uidl>		an intent found undelivered: forget it
 *	<where> = <kind m|b|p|s|l|t> <token> <size> <offset> <len> <sha256-hex>
 *		  <target> <Maildir name>
 */
#ifndef KPOP_STATE_H
#define KPOP_STATE_H

#include <stddef.h>

#include "common/status.h"
#include "common/util.h"
#include "kpop/deliver.h"

/*
 * An account id, the name of its directory: well under NAME_MAX (255);
 * a longer one is cut to a readable prefix and a hash of the whole.
 */
#define ST_ID_MAX		200
/* A user or host name st_account_id takes (DNS names are 253 at most). */
#define ST_NAME_IN_MAX		255
/* Hex digits of SHA-256 kept when a long id is cut (128 bits). */
#define ST_ID_HASH_HEX		32
/* A delivery token from st_token(): 128 random bits in hex. */
#define ST_TOKEN_LEN		32
/*
 * A record line: a UIDL (70), a target (DLV_ARG_MAX, up to three times
 * that percent-encoded), a Maildir name (the same), numbers and a digest.
 */
#define ST_LINE_MAX		(4 * DLV_ARG_MAX)
/*
 * The largest snapshot or journal st_open reads: about 100 bytes an
 * entry, so some two million messages; anything larger is not ours.
 */
#define ST_FILE_MAX		(256 * 1024 * 1024)
/* A journal past this many bytes is folded into the snapshot at open. */
#define ST_COMPACT_AT		(1024 * 1024)
/*
 * The wholesale-change rule (st_changed): with at least ST_CHANGED_MIN
 * entries that should still be on the server, fewer than ST_CHANGED_PCT
 * percent of them listed means the server's UIDLs changed (a migration,
 * a rebuilt index), not that the mail went.  Five keeps a mailbox of two
 * or three old messages, deleted elsewhere, from tripping it.
 */
#define ST_CHANGED_MIN		5
#define ST_CHANGED_PCT		10
/* Milliseconds between tries for a busy account lock. */
#define ST_LOCK_POLL_MS		100

/*
 * Calls return an enum kp_status (common/status.h): KP_OK, KP_INUSE
 * (st_open: another run has the account) or KP_TEMP (see err).
 */

enum st_status {
	ST_UNKNOWN = 0,		/* not recorded: fetch it */
	ST_PENDING,		/* intent recorded, outcome unknown */
	ST_DELIVERED,		/* delivered; not known deleted */
	ST_KEPT,		/* delivered and left on the server */
	ST_DELETED		/* deleted on the server (QUIT +OK) */
};

struct st;

/*
 * The account id of user at host:port, for st_open: "USER@HOST:PORT"
 * with the host in lower case and, in each of USER and HOST, every byte
 * but [A-Za-z0-9._+-] (so also '/', '@', ':', '%') written %XX, as is a
 * leading '.'.  The mapping is one-to-one, and an id is one path
 * component that is never "." or "..", so no account can reach another's
 * directory or leave the state directory.  An id longer than ST_ID_MAX is
 * cut and ends "~" and ST_ID_HASH_HEX hex digits of the SHA-256 of the
 * whole ('~' appears in no other id).  Returns KP_OK, or KP_TEMP (port
 * not 1-65535, user or host empty or longer than ST_NAME_IN_MAX, or out
 * smaller than ST_ID_MAX + 1).
 */
int	st_account_id(const char *user, const char *host, unsigned int port,
	    char *out, size_t outlen) KP_NONNULL(1, 2, 4) KP_WUR;

/*
 * The directory that holds the accounts' state directories:
 * $XDG_STATE_HOME/kpop if that is an absolute path, else
 * $HOME/.local/state/kpop (the home directory from the password file
 * without $HOME).  Returns KP_OK, or KP_TEMP with err set.
 */
int	st_default_dir(char *out, size_t outlen, char *err, size_t errlen)
	    KP_NONNULL(1, 3) KP_WUR;

/*
 * Open the state of account id (as st_account_id makes; anything else is
 * refused) under base (NULL: st_default_dir): make base and base/id mode
 * 0700 as needed, take the account lock, waiting up to wait_s seconds,
 * and load the snapshot and journal.  Returns KP_OK and *stp, to free
 * with st_close(); KP_INUSE with "account ID is busy (pid N)" in err when
 * another process (or another st_open in this one) holds it; or KP_TEMP.
 */
int	st_open(const char *base, const char *id, unsigned int wait_s,
	    struct st **stp, char *err, size_t errlen)
	    KP_NONNULL(2, 4, 5) KP_WUR;

/* Release the lock and free everything; NULL is allowed. */
void	st_close(struct st *);

/* The account's directory (owned by the state). */
const char *st_dir(const struct st *) KP_NONNULL(1);

/*
 * Make a fresh delivery token: ST_TOKEN_LEN hex digits of 128 bits from
 * OpenSSL's CSPRNG, in out of outlen > ST_TOKEN_LEN.  KP_OK or KP_TEMP.
 */
int	st_token(char *out, size_t outlen) KP_NONNULL(1) KP_WUR;

/*
 * The status of uidl (ST_UNKNOWN for an invalid one) and, for
 * ST_PENDING, where it was going in *wp (owned by the state, valid until
 * the next change), if wp is not NULL.
 */
enum st_status st_get(const struct st *, const char *uidl,
	    const struct dlv_where **wp) KP_NONNULL(1, 2);

/* The number of entries. */
size_t	st_count(const struct st *) KP_NONNULL(1);

/*
 * Call fn for every entry, in no set order (w only for ST_PENDING), and
 * stop early when it returns non-zero; returns that value or 0.  fn must
 * not change the state.
 */
int	st_each(const struct st *, int (*fn)(void *arg, const char *uidl,
	    enum st_status, const struct dlv_where *w), void *arg)
	    KP_NONNULL(1, 2);

/*
 * The record calls: each appends its record(s) to the journal and
 * fsyncs it before it changes the state, and returns KP_OK, or KP_TEMP
 * with err set and nothing changed (a record torn by a failed write is
 * cut off again; if that fails too the state refuses all further
 * records).  A UIDL that is not valid, or a change that does not follow
 * from the status, is refused: those are the caller's bugs, and obeying
 * them could lose or duplicate mail.
 *
 * st_intent: before a delivery starts (UNKNOWN; DELETED, a UIDL the
 *	server reused for new mail; or PENDING to refine the where once
 *	dlv_prepare placed an mbox append).  w->token must be
 *	set for a Maildir.
 * st_delivered: after dlv_commit (from PENDING; DELIVERED: nothing).
 *	w may be NULL; else it is journalled for the record.
 * st_kept: delivered and left on the server (from DELIVERED or KEPT).
 * st_deleted: the n messages were deleted by a QUIT that answered +OK
 *	(each from DELIVERED, KEPT or DELETED); one fsync for all.
 * st_forget: an intent whose delivery did not happen (from PENDING).
 */
int	st_intent(struct st *, const char *uidl, const struct dlv_where *w,
	    char *err, size_t errlen) KP_NONNULL(1, 2, 3, 4) KP_WUR;
int	st_delivered(struct st *, const char *uidl,
	    const struct dlv_where *w, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 4) KP_WUR;
int	st_kept(struct st *, const char *uidl, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 3) KP_WUR;
int	st_deleted(struct st *, const char *const *uidls, size_t n,
	    char *err, size_t errlen) KP_NONNULL(1, 4) KP_WUR;
int	st_forget(struct st *, const char *uidl, char *err, size_t errlen)
	    KP_NONNULL(1, 2, 3) KP_WUR;

/*
 * st_import: the n UIDLs another client fetched and left on the server
 *	(kpop --import-uidls) become ST_KEPT, each that the state does
 *	not know (ST_UNKNOWN; invalid ones are skipped), in one fsync;
 *	*added says how many entries that made.
 */
int	st_import(struct st *, const char *const *uidls, size_t n,
	    size_t *added, char *err, size_t errlen) KP_NONNULL(1, 4, 5) KP_WUR;

/*
 * Settle every ST_PENDING entry left by an interrupted run, by looking
 * where it was going:
 *	Maildir  dlv_maildir_find(token): found -> DELIVERED, else forget.
 *	mbox     placed and dlv_mbox_check PRESENT -> DELIVERED; PARTIAL
 *		 -> dlv_mbox_unappend (lock_wait seconds), then forget (if
 *		 other mail follows it the torn copy stays: a note says
 *		 so); ABSENT or not placed -> forget.
 *	MDA      cannot be asked: forget, so it is delivered again (at least
 *		 once beats at most once for mail; KPOP_UIDL and KPOP_TOKEN
 *		 let an MDA drop the duplicate), with a note.
 *	LMTP, SMTP  cannot be asked either: forget, so it is delivered
 *		 again, with a note.  The one window where that duplicates
 *		 is a crash after the final "." was sent (the server then
 *		 commits) and before st_delivered journalled its reply (RFC
 *		 1047); dlv_commit returns at that reply.
 *	stdout   forget, with a note.
 * note (may be NULL) is told about each decision worth a log line.
 * Returns KP_OK, or KP_TEMP when a check could not be made (the entry
 * stays pending: nothing may be fetched for it).
 */
int	st_recover(struct st *, void (*note)(void *arg, const char *uidl,
	    const char *msg), void *arg, unsigned int lock_wait, char *err,
	    size_t errlen) KP_NONNULL(1, 5) KP_WUR;

/*
 * The wholesale-change rule, given the server's n UIDLs (invalid ones
 * are ignored): 1 when the server lists at least one message, the state
 * holds at least ST_CHANGED_MIN entries that must still be on the
 * server (ST_KEPT), and fewer than ST_CHANGED_PCT percent of those are
 * listed; else 0.  ST_DELETED entries are not counted: the server is
 * meant not to have them; nor ST_DELIVERED ones: a crash between QUIT's
 * +OK and st_deleted leaves deleted mail in that status (the SIGKILL test
 * found it).  On 1 the caller refuses to fetch
 * the unknown messages unless told to (--force).
 */
int	st_changed(struct st *, const char *const *uidls, size_t n)
	    KP_NONNULL(1);

/*
 * Fold the journal into a new snapshot (written to state.tmp, fsynced,
 * renamed, directory fsynced; then the journal is emptied).  With the
 * server's UIDL list (uidls not NULL), entries the server no longer
 * lists are forgotten if they are ST_DELETED, ST_KEPT or ST_DELIVERED
 * (a DELIVERED one that is gone was deleted by a QUIT whose +OK a crash
 * kept us from recording), so the state does not grow for ever; never
 * ST_PENDING ones (st_recover settles those), and nothing at all when
 * st_changed() says the list changed wholesale.  Returns KP_OK or KP_TEMP
 * (the old snapshot and journal still hold the state).
 */
int	st_compact(struct st *, const char *const *uidls, size_t n,
	    char *err, size_t errlen) KP_NONNULL(1, 4) KP_WUR;

#endif
