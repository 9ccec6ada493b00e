/* SPDX-License-Identifier: MIT */
/*
 * kpop/state.c: the per-account UIDL state (state.h): opening and
 * closing it, delivery tokens, queries, recording (each change checked
 * against the entry's status, then journalled), recovery after a crash,
 * the wholesale-change rule and compaction.
 *
 * The parts: st-table.c holds the entries, st-journal.c the record
 * format, the journal and the snapshot, st-account.c account ids, the
 * state directories and the account lock (st-int.h).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/limits.h"
#include "common/pop3.h"
#include "common/util.h"
#include "kpop/deliver.h"
#include "kpop/state.h"
#include "kpop/st-int.h"

/* Bytes of random in a token (ST_TOKEN_LEN hex digits). */
#define ST_TOKEN_BYTES	(ST_TOKEN_LEN / 2)

/* ---- tokens and the state directory ---- */


int
st_token(char *out, size_t outlen)
{
	unsigned char r[ST_TOKEN_BYTES];

	if (outlen <= ST_TOKEN_LEN || RAND_bytes(r, sizeof(r)) != 1)
		return KP_TEMP;
	util_hex(r, sizeof(r), out);
	return KP_OK;
}

int
st_default_dir(char *out, size_t outlen, char *err, size_t errlen)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	struct passwd *pw;

	if (x != NULL && x[0] == '/') {
		if (util_snprintf(out, outlen, "%s/kpop", x) == -1)
			goto long_path;
		return KP_OK;
	}
	if ((home == NULL || home[0] != '/') &&
	    (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	if (home == NULL || home[0] != '/') {
		(void)util_snprintf(err, errlen,
		    "no state directory: set HOME or "
		    "XDG_STATE_HOME");
		return KP_TEMP;
	}
	if (util_snprintf(out, outlen, "%s/.local/state/kpop", home) == -1)
		goto long_path;
	return KP_OK;
long_path:
	(void)util_snprintf(err, errlen, "state directory: path too long");
	return KP_TEMP;
}


/* ---- open and close ---- */

int
st_open(const char *base, const char *id, unsigned int wait_s,
    struct st **stp, char *err, size_t errlen)
{
	char dbase[PATH_MAX];
	struct st *st;
	int rc;

	*stp = NULL;
	if (!st_account_id_valid(id)) {
		(void)util_snprintf(err, errlen, "bad account id");
		return KP_TEMP;
	}
	if (base == NULL) {
		if (st_default_dir(dbase, sizeof(dbase), err, errlen) != KP_OK)
			return KP_TEMP;
		base = dbase;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		(void)util_snprintf(err, errlen, "out of memory");
		return KP_TEMP;
	}
	st->lock_fd = st->jfd = -1;
	(void)util_strlcpy(st->id, id, sizeof(st->id));
	if (util_snprintf(st->dir, sizeof(st->dir), "%s/%s", base, id) == -1) {
		(void)util_snprintf(err, errlen, "%s: path too long", base);
		rc = KP_TEMP;
	} else if ((rc = st_account_mkdirs(base, err, errlen)) == KP_OK &&
	    (rc = st_account_dir(st, err, errlen)) == KP_OK &&
	    (rc = st_account_lock(st, wait_s, err, errlen)) == KP_OK &&
	    (rc = st_journal_load_snapshot(st, err, errlen)) == KP_OK &&
	    (rc = st_journal_load(st, err, errlen)) == KP_OK &&
	    st->jsize > ST_COMPACT_AT)
		rc = st_compact(st, NULL, 0, err, errlen);
	if (rc != KP_OK) {
		st_close(st);
		return rc;
	}
	*stp = st;
	return KP_OK;
}

void
st_close(struct st *st)
{
	if (st == NULL)
		return;
	if (st->jfd != -1)
		(void)close(st->jfd);
	st_account_unlock(st);
	st_table_free(st);
	free(st);
}

const char *
st_dir(const struct st *st)
{
	return st->dir;
}

/* ---- queries ---- */

enum st_status
st_get(const struct st *st, const char *uidl, const struct dlv_where **wp)
{
	struct st_ent *e;

	if (wp != NULL)
		*wp = NULL;
	if (!pop3_uidl_ok(uidl, strlen(uidl)) ||
	    (e = st_table_find(st, uidl)) == NULL)
		return ST_UNKNOWN;
	if (wp != NULL)
		*wp = e->w;
	return e->status;
}

size_t
st_count(const struct st *st)
{
	return st->count;
}

int
st_each(const struct st *st, int (*fn)(void *, const char *,
    enum st_status, const struct dlv_where *), void *arg)
{
	struct st_ent *e;
	size_t i;
	int rc;

	for (i = 0; i < st->nb; i++)
		for (e = st->tab[i]; e != NULL; e = e->next)
			if ((rc = fn(arg, e->uidl, e->status, e->w)) != 0)
				return rc;
	return 0;
}

/* ---- recording ---- */

#define ST_BIT(s)	(1U << (s))

/*
 * Check a record call: the UIDL is valid and its status one of the
 * allowed (a bit per enum st_status).  Returns the entry's status, or -1
 * with err set.
 */
static int
st_check(const struct st *st, const char *uidl, unsigned int allowed,
    const char *what, char *err, size_t errlen)
{
	static const char *const name[] = { "unknown", "pending",
	    "delivered", "kept", "deleted" };
	enum st_status s;

	if (!pop3_uidl_ok(uidl, strlen(uidl))) {
		(void)util_snprintf(err, errlen,
		    "%s: not a valid UIDL (1-70 characters "
		    "0x21-0x7E)", what);
		return -1;
	}
	s = st_get(st, uidl, NULL);
	if ((allowed & (1U << s)) == 0) {
		(void)util_snprintf(err, errlen,
		    "%s %s: not allowed, the message is %s",
		    what, uidl, name[s]);
		return -1;
	}
	return (int)s;
}


int
st_intent(struct st *st, const char *uidl, const struct dlv_where *w,
    char *err, size_t errlen)
{
	struct st_r r;

	/* DELETED: a server may list a UIDL again once its message is
	   gone (RFC 1939 s.7); what it lists under it now is new mail. */
	if (st_check(st, uidl, ST_BIT(ST_UNKNOWN) | ST_BIT(ST_PENDING) |
	    ST_BIT(ST_DELETED), "intent", err, errlen) == -1)
		return KP_TEMP;
	if ((w->kind == DLV_MAILDIR || w->token[0] != '\0') &&
	    !dlv_token_valid(w->token)) {
		(void)util_snprintf(err, errlen,
		    "intent %s: bad delivery token", uidl);
		return KP_TEMP;
	}
	st_journal_rec(&r, 'I', uidl, w);
	return st_journal_log(st, &r, 1, err, errlen);
}

int
st_delivered(struct st *st, const char *uidl, const struct dlv_where *w,
    char *err, size_t errlen)
{
	struct st_r r;
	int s;

	if ((s = st_check(st, uidl, ST_BIT(ST_PENDING) | ST_BIT(ST_DELIVERED),
	    "delivered", err, errlen)) == -1)
		return KP_TEMP;
	if (s == ST_DELIVERED)
		return KP_OK;
	st_journal_rec(&r, 'D', uidl, w);
	return st_journal_log(st, &r, 1, err, errlen);
}

int
st_kept(struct st *st, const char *uidl, char *err, size_t errlen)
{
	struct st_r r;
	int s;

	if ((s = st_check(st, uidl, ST_BIT(ST_DELIVERED) | ST_BIT(ST_KEPT),
	    "kept", err, errlen)) == -1)
		return KP_TEMP;
	if (s == ST_KEPT)
		return KP_OK;
	st_journal_rec(&r, 'K', uidl, NULL);
	return st_journal_log(st, &r, 1, err, errlen);
}

int
st_deleted(struct st *st, const char *const *uidls, size_t n, char *err,
    size_t errlen)
{
	struct st_r *r;
	size_t i, k = 0;
	int s, rc;

	if ((r = calloc(n == 0 ? 1 : n, sizeof(*r))) == NULL) {
		(void)util_snprintf(err, errlen, "out of memory");
		return KP_TEMP;
	}
	for (i = 0; i < n; i++) {
		if ((s = st_check(st, uidls[i], ST_BIT(ST_DELIVERED) |
		    ST_BIT(ST_KEPT) | ST_BIT(ST_DELETED), "deleted", err,
		    errlen)) == -1) {
			free(r);
			return KP_TEMP;
		}
		if (s != ST_DELETED)
			st_journal_rec(&r[k++], 'X', uidls[i], NULL);
	}
	rc = k == 0 ? KP_OK : st_journal_log(st, r, k, err, errlen);
	free(r);
	return rc;
}

int
st_import(struct st *st, const char *const *uidls, size_t n, size_t *added,
    char *err, size_t errlen)
{
	struct st_r *r;
	size_t i, k = 0, before = st->count;
	int rc;

	*added = 0;
	if ((r = calloc(n == 0 ? 1 : n, sizeof(*r))) == NULL) {
		(void)util_snprintf(err, errlen, "out of memory");
		return KP_TEMP;
	}
	/* Only what the state does not know: never over a kpop record. */
	for (i = 0; i < n; i++)
		if (pop3_uidl_ok(uidls[i], strlen(uidls[i])) &&
		    st_get(st, uidls[i], NULL) == ST_UNKNOWN)
			st_journal_rec(&r[k++], 'K', uidls[i], NULL);
	rc = k == 0 ? KP_OK : st_journal_log(st, r, k, err, errlen);
	free(r);
	if (rc == KP_OK)
		*added = st->count - before;
	return rc;
}

int
st_forget(struct st *st, const char *uidl, char *err, size_t errlen)
{
	struct st_r r;

	if (st_check(st, uidl, ST_BIT(ST_PENDING), "forget", err,
	    errlen) == -1)
		return KP_TEMP;
	st_journal_rec(&r, 'F', uidl, NULL);
	return st_journal_log(st, &r, 1, err, errlen);
}

/* ---- recovery ---- */

struct st_note {
	void		(*fn)(void *, const char *, const char *);
	void		*arg;
};

static void st_say(const struct st_note *, const char *, const char *, ...)
    KP_PRINTF(3, 4);

static void
st_say(const struct st_note *nt, const char *uidl, const char *fmt, ...)
{
	char msg[DLV_ERR_MAX];
	va_list ap;

	if (nt->fn == NULL)
		return;
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	nt->fn(nt->arg, uidl, msg);
}

/* A pending mbox append: whole, torn (cut it off), or never made. */
static int
st_recover_mbox(struct st *st, const char *uidl, struct dlv_where *w,
    const struct st_note *nt, unsigned int lock_wait, char *err,
    size_t errlen)
{
	int rc;

	if (!w->placed)
		return st_forget(st, uidl, err, errlen);
	rc = dlv_mbox_check(w->arg, w->offset, w->len, w->sha256, err,
	    errlen);
	if (rc < 0)
		return KP_TEMP;
	if (rc == DLV_PRESENT) {
		st_say(nt, uidl, "mbox %s: the interrupted delivery is there "
		    "(offset %llu): not delivering it again", w->arg,
		    w->offset);
		return st_delivered(st, uidl, w, err, errlen);
	}
	if (rc == DLV_PARTIAL) {
		rc = dlv_mbox_unappend(w->arg, w->offset, w->len, lock_wait,
		    err, errlen);
		if (rc == KP_TEMP)
			return KP_TEMP;
		if (rc == KP_PERM)
			st_say(nt, uidl, "%s", err);
		else
			st_say(nt, uidl, "mbox %s: removed the torn delivery "
			    "at offset %llu", w->arg, w->offset);
	}
	return st_forget(st, uidl, err, errlen);
}

/* Settle one pending entry (its where copied, as forget frees it). */
static int
st_recover_one(struct st *st, const char *uidl, const struct st_note *nt,
    unsigned int lock_wait, char *err, size_t errlen)
{
	struct dlv_where w;
	const struct dlv_where *wp;
	int rc;

	if (st_get(st, uidl, &wp) != ST_PENDING || wp == NULL)
		return KP_OK;
	w = *wp;
	switch (w.kind) {
	case DLV_MAILDIR:
		rc = dlv_maildir_find(w.arg, w.token, w.name, sizeof(w.name),
		    err, errlen);
		if (rc < 0)
			return KP_TEMP;
		if (rc == 0)
			return st_forget(st, uidl, err, errlen);
		st_say(nt, uidl, "Maildir %s: the interrupted delivery is "
		    "there (%s): not delivering it again", w.arg, w.name);
		return st_delivered(st, uidl, &w, err, errlen);
	case DLV_MBOX:
		return st_recover_mbox(st, uidl, &w, nt, lock_wait, err,
		    errlen);
	case DLV_MDA:
		st_say(nt, uidl, "mda %s was interrupted: delivering again "
		    "(the MDA may see it twice)", w.arg);
		return st_forget(st, uidl, err, errlen);
	case DLV_LMTP:
	case DLV_SMTP:
		st_say(nt, uidl, "%s %s was interrupted: delivering again "
		    "(if it had taken the message, it gets it twice: kpop(1) "
		    "EXACTLY ONCE)", w.kind == DLV_LMTP ? "lmtp" : "smtp",
		    w.arg);
		return st_forget(st, uidl, err, errlen);
	default:
		st_say(nt, uidl, "output to stdout was interrupted: "
		    "delivering again");
		return st_forget(st, uidl, err, errlen);
	}
}

/* Collect the pending UIDLs (changes during recovery move entries). */
static int
st_pending(const struct st *st, char (**listp)[POP3_UIDL_MAX + 1],
    size_t *np)
{
	char (*list)[POP3_UIDL_MAX + 1] = NULL;
	struct st_ent *e;
	size_t i, n = 0, cap = 0;

	for (i = 0; i < st->nb; i++)
		for (e = st->tab[i]; e != NULL; e = e->next) {
			if (e->status != ST_PENDING)
				continue;
			if (n == cap) {
				void *p;

				cap = cap == 0 ? 16 : cap * 2;
				if ((p = realloc(list, cap * sizeof(*list))) ==
				    NULL) {
					free(list);
					return -1;
				}
				list = p;
			}
			memcpy(list[n++], e->uidl, sizeof(e->uidl));
		}
	*listp = list;
	*np = n;
	return 0;
}

int
st_recover(struct st *st, void (*note)(void *, const char *, const char *),
    void *arg, unsigned int lock_wait, char *err, size_t errlen)
{
	char (*list)[POP3_UIDL_MAX + 1];
	struct st_note nt = { note, arg };
	size_t i, n;
	int rc = KP_OK;

	if (st_pending(st, &list, &n) == -1) {
		(void)util_snprintf(err, errlen, "out of memory");
		return KP_TEMP;
	}
	for (i = 0; i < n && rc == KP_OK; i++)
		rc = st_recover_one(st, list[i], &nt, lock_wait, err, errlen);
	free(list);
	return rc;
}

/* ---- the server's list: wholesale change and forgetting ---- */

/* Mark the entries the server lists; returns how many UIDLs were valid. */
static size_t
st_mark(struct st *st, const char *const *uidls, size_t n)
{
	struct st_ent *e;
	size_t i, valid = 0;

	if (++st->mark == 0) {
		for (i = 0; i < st->nb; i++)
			for (e = st->tab[i]; e != NULL; e = e->next)
				e->mark = 0;
		st->mark = 1;
	}
	for (i = 0; i < n; i++) {
		if (uidls[i] == NULL ||
		    !pop3_uidl_ok(uidls[i], strlen(uidls[i])))
			continue;
		valid++;
		if ((e = st_table_find(st, uidls[i])) != NULL)
			e->mark = st->mark;
	}
	return valid;
}

int
st_changed(struct st *st, const char *const *uidls, size_t n)
{
	struct st_ent *e;
	size_t i, expect = 0, listed = 0, valid;

	valid = st_mark(st, uidls, n);
	for (i = 0; i < st->nb; i++)
		for (e = st->tab[i]; e != NULL; e = e->next) {
			/*
			 * Only kept mail must still be there: a DELIVERED
			 * entry may be gone by a QUIT whose +OK a crash kept
			 * us from recording.
			 */
			if (e->status != ST_KEPT)
				continue;
			expect++;
			if (e->mark == st->mark)
				listed++;
		}
	return valid > 0 && expect >= ST_CHANGED_MIN &&
	    listed * 100 < expect * ST_CHANGED_PCT;
}

/* Drop settled entries the server no longer lists (marked by st_mark). */
static void
st_forget_gone(struct st *st)
{
	struct st_ent **pp, *e;
	size_t i;

	for (i = 0; i < st->nb; i++)
		for (pp = &st->tab[i]; (e = *pp) != NULL; ) {
			if (e->mark == st->mark || e->status == ST_PENDING) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			free(e->w);
			free(e);
			st->count--;
		}
}

/* The record that rebuilds an entry. */
int
st_compact(struct st *st, const char *const *uidls, size_t n, char *err,
    size_t errlen)
{
	if (st->broken) {
		(void)util_snprintf(err, errlen,
		    "%s/journal: an earlier write failed "
		    "and could not be undone", st->dir);
		return KP_TEMP;
	}
	if (uidls != NULL && !st_changed(st, uidls, n))
		st_forget_gone(st);
	if (st_journal_snapshot(st, st->gen + 1, err, errlen) != KP_OK)
		return KP_TEMP;
	/*
	 * The snapshot has it all now.  Should the journal not start over,
	 * its old generation makes the next st_open drop it; but records
	 * appended to it now would be lost with it, so none are allowed.
	 */
	return st_journal_reset(st, st->gen + 1, err, errlen);
}
