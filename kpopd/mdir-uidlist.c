/* SPDX-License-Identifier: MIT */
/*
 * kpopd/mdir-uidlist.c: Dovecot's dovecot-uidlist, read so that a
 * Maildir Dovecot served keeps its UIDLs under kpopd (uidl_format =
 * dovecot:FORMAT or dovecot-saved, kpopd.conf(5)).
 *
 * The file (Dovecot's src/lib-storage/index/maildir/maildir-uidlist.c)
 * is a header line and one line per message.  Version 3, Dovecot 1.1
 * and later:
 *
 *   3 V<uidvalidity> N<next uid> G<mailbox guid> ...
 *   <uid> [<key><value> ...] :<file name>
 *
 * with record keys W (virtual size), S (physical size), P (the saved
 * POP3 UIDL; empty: the base file name), O (the POP3 order) and G (the
 * message GUID).  Version 1 (older Dovecot, Courier's courierimapuiddb):
 * "1 <uidvalidity> <next uid>", then "<uid> <file name>".  A message's
 * entry is found by its base name (before ":"), as Dovecot finds it.
 *
 * The mail user owns the Maildir and so this file: it is read through
 * md_path_openat (no symlink), must pass md_path_check like kpopd.cache,
 * is bounded in bytes, line length and records, and every number goes
 * through util_parse_uint.  A line that breaks the rules is left out
 * (and said once), as are UIDs out of order; a header without a
 * UIDVALIDITY makes the whole file unusable: Dovecot would have started
 * over with new UIDs then, so the messages get their file names.
 *
 * Dovecot's UIDL of a message is its P field if it has one, else
 * pop3_uidl_format expanded (md-uidfmt.c).  A message with no entry
 * arrived after Dovecot last looked: it gets its base name, as under
 * uidl_format = filename.  Base names hold a "." (time.unique.host),
 * so they never equal the 16 hex digits of Dovecot's default format,
 * and md_uidl_dedup settles any other coincidence.  Nothing here is
 * written: the UIDLs follow from the file and the names, so every
 * session, and the kpopd.cache listing, gives the same ones.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/util.h"
#include "kpopd/mdir-int.h"

#define MDIR_UIDLIST	"dovecot-uidlist"

/* Note a broken line (1-based number ln): counted, the first kept. */
static void
mdir_uidlist_bad(struct mdir_uidlist *u, size_t ln)
{
	if (u->bad++ == 0)
		u->first_bad = ln;
}

/* Parse one field value: a number up to max.  0, or -1. */
static int
mdir_uidlist_num(const char *p, size_t n, unsigned long long max,
    unsigned long long *v)
{
	return util_parse_uint(p, n, max, v);
}

/* The header line (p, n).  Returns 0, or -1 if it is unusable. */
static int
mdir_uidlist_header(struct mdir_uidlist *u, const char *p, size_t n)
{
	const char *end = p + n, *f, *sp;
	unsigned long long v;

	if (n >= 2 && p[0] == '1' && p[1] == ' ') {
		/* 1 <uidvalidity> <next uid> */
		u->version = 1;
		f = p + 2;
		if ((sp = memchr(f, ' ', (size_t)(end - f))) == NULL ||
		    mdir_uidlist_num(f, (size_t)(sp - f), UINT32_MAX,
		    &v) == -1 || v == 0)
			return -1;
		u->uidvalidity = (uint32_t)v;
		return 0;
	}
	if (n < 1 || p[0] != '3' || (n > 1 && p[1] != ' '))
		return -1;
	u->version = 3;
	for (f = p + 1; f < end; f = sp) {
		while (f < end && *f == ' ')
			f++;
		if (f == end)
			break;
		if ((sp = memchr(f, ' ', (size_t)(end - f))) == NULL)
			sp = end;
		if (*f == 'V') {
			if (mdir_uidlist_num(f + 1, (size_t)(sp - f - 1),
			    UINT32_MAX, &v) == -1 || v == 0)
				return -1;
			u->uidvalidity = (uint32_t)v;
		}
		/* N, G and others: not needed for UIDLs. */
	}
	return u->uidvalidity != 0 ? 0 : -1;
}

/*
 * One record line (p, n) into r.  Returns 0, or -1 if it
 * breaks the rules.
 */
static int
mdir_uidlist_record(struct mdir_uidlist *u, const char *p, size_t n,
    struct mdir_urec *r)
{
	const char *end = p + n, *q, *f, *sp;
	unsigned long long v;

	memset(r, 0, sizeof(*r));
	r->order = MDIR_NONE;
	for (q = p; q < end && *q >= '0' && *q <= '9'; q++)
		;
	if (q == end || *q != ' ' || mdir_uidlist_num(p, (size_t)(q - p),
	    UINT32_MAX - 1, &v) == -1 || v == 0 || v <= u->last_uid)
		return -1;
	r->uid = (uint32_t)v;
	while (q < end && *q == ' ')
		q++;
	if (u->version == 3) {
		/* Fields up to the one that starts with ':'. */
		for (f = q; f < end && *f != ':'; f = sp) {
			if ((sp = memchr(f, ' ', (size_t)(end - f))) == NULL)
				sp = end;
			switch (*f) {
			case 'P':
				r->pop3 = f + 1;
				r->pop3len = (size_t)(sp - f - 1);
				break;
			case 'G':
				r->guid = f + 1;
				r->guidlen = (size_t)(sp - f - 1);
				break;
			case 'O':
				if (mdir_uidlist_num(f + 1,
				    (size_t)(sp - f - 1), UINT32_MAX, &v) == 0)
					r->order = v;
				break;
			default:
				/* W, S, and keys Dovecot would drop. */
				break;
			}
			while (sp < end && *sp == ' ')
				sp++;
		}
		if (f == end)
			return -1;	/* no file name */
		q = f + 1;
	}
	if (q == end || memchr(q, '/', (size_t)(end - q)) != NULL)
		return -1;
	r->name = q;
	r->namelen = (size_t)(end - q);
	if ((q = memchr(r->name, ':', r->namelen)) != NULL)
		r->namelen = (size_t)(q - r->name);
	if (r->namelen == 0)
		return -1;
	u->last_uid = r->uid;
	return 0;
}

/* The base name of record i (set: the struct mdir_uidlist). */
static void
mdir_urec_base(const void *set, size_t i, const char **namep, size_t *lenp)
{
	const struct mdir_uidlist *u = set;

	*namep = u->recs[i].name;
	*lenp = u->recs[i].namelen;
}

int
mdir_uidlist_parse(struct mdir_uidlist *u, char *text, size_t len,
    char *err, size_t errlen)
{
	const char *p, *nl, *end;
	struct mdir_urec *nr;
	size_t cap = 0, ln, n;

	memset(u, 0, sizeof(*u));
	u->text = text;
	u->len = len;
	end = text + len;
	for (p = text, ln = 1; p < end; p = nl + 1, ln++) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;	/* a last line without LF */
		n = (size_t)(nl - p);
		if (ln == 1) {
			if (n > MD_UIDLIST_LINE_MAX ||
			    memchr(p, '\0', n) != NULL ||
			    mdir_uidlist_header(u, p, n) == -1) {
				u->unusable = 1;
				return KP_OK;
			}
			continue;
		}
		if (n == 0 && nl == end)
			break;
		if (n > MD_UIDLIST_LINE_MAX || memchr(p, '\0', n) != NULL) {
			mdir_uidlist_bad(u, ln);
			continue;
		}
		if (u->n == MD_UIDLIST_RECS_MAX) {
			mdir_uidlist_bad(u, ln);
			break;
		}
		if (u->n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			if ((nr = reallocarray(u->recs, cap,
			    sizeof(*nr))) == NULL)
				goto nomem;
			u->recs = nr;
		}
		if (mdir_uidlist_record(u, p, n, &u->recs[u->n]) == -1)
			mdir_uidlist_bad(u, ln);
		else
			u->n++;
	}
	if (u->version == 0) {
		u->unusable = 1;	/* empty */
		return KP_OK;
	}
	if (u->n > 0 && (u->byname = mdir_name_index(u, u->n,
	    mdir_urec_base, 0)) == NULL)
		goto nomem;
	return KP_OK;
nomem:
	util_snprintf(err, errlen, "out of memory");
	return KP_TEMP;
}

const struct mdir_urec *
mdir_uidlist_find(const struct mdir_uidlist *u, const char *name, size_t len)
{
	const struct mdir_urec *best = NULL, *r;
	size_t i;

	if (u->n == 0)
		return NULL;
	/* A name listed twice: the later (higher) UID, as Dovecot keeps. */
	for (i = mdir_name_find(u->byname, u->n, u, mdir_urec_base, name,
	    len); i < u->n; i++) {
		r = &u->recs[u->byname[i]];
		if (mdir_name_cmp(r->name, r->namelen, name, len) != 0)
			break;
		if (best == NULL || r->uid > best->uid)
			best = r;
	}
	return best;
}

void
mdir_uidlist_free(struct mdir_uidlist *u)
{
	free(u->byname);
	free(u->recs);
	free(u->text);
	memset(u, 0, sizeof(*u));
}

int
mdir_uidlist_uidl(const struct mdir_uidlist *u, const struct mdir_urec *r,
    const char *fmt, char *out, char *err, size_t errlen)
{
	struct md_uidvars v;
	char buf[MD_UIDFMT_OUT_MAX];
	size_t len;

	if (r->pop3 != NULL && r->pop3len > 0) {
		md_uidl_from(r->pop3, r->pop3len, out);
		return 0;
	}
	if (r->pop3 != NULL) {
		/* "P" alone: Dovecot's mark for the base file name. */
		md_uidl_from(r->name, r->namelen, out);
		return 0;
	}
	v.uid = r->uid;
	v.uidvalidity = u->uidvalidity;
	v.name = r->name;
	v.namelen = r->namelen;
	v.guid = r->guid != NULL && r->guidlen > 0 ? r->guid : NULL;
	v.guidlen = r->guidlen;
	if (md_uidfmt_expand(fmt, &v, buf, &len, err, errlen) == -1)
		return -1;
	md_uidl_from(buf, len, out);
	return 0;
}

/* ---- reading the file ---- */

void
mdir_file_note(struct mdir *m, const char *name, const char *what)
{
	char msg[PATH_MAX + 256];

	if (m->note == NULL || m->notes++ >= MD_NOTES_MAX)
		return;
	(void)util_snprintf(msg, sizeof(msg), "%s/%s: %s", m->path, name,
	    what);
	m->note(msg);
}

int
mdir_file_read(struct mdir *m, const struct md_opts *o, const char *name,
    size_t max, char **textp, size_t *lenp, char *err, size_t errlen)
{
	struct stat st;
	char shown[PATH_MAX], *text = NULL;
	size_t got = 0;
	ssize_t r;
	int fd, e_no, rc;

	*textp = NULL;
	*lenp = 0;
	(void)util_snprintf(shown, sizeof(shown), "%s/%s", m->path, name);
	fd = md_path_openat(m->rootfd, name, O_RDONLY | O_NONBLOCK, 0);
	if (fd == -1) {
		if (errno == ENOENT)
			return KP_OK;	/* never written */
		return md_path_failed(m->rootfd, name, shown, errno, err,
		    errlen);
	}
	if (fstat(fd, &st) == -1) {
		e_no = errno;
		util_snprintf(err, errlen, "%s: %s", shown, strerror(e_no));
		rc = KP_TEMP;
		goto out;
	}
	if ((rc = md_path_check(&st, MD_K_FILE, o, shown, err, errlen)) !=
	    KP_OK)
		goto out;
	if ((unsigned long long)st.st_size > max) {
		util_snprintf(err, errlen, "%s: larger than %zu bytes", shown,
		    max);
		rc = KP_PERM;
		goto out;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		rc = KP_TEMP;
		goto out;
	}
	/* Up to the size it had: its writers replace it, never append. */
	while (got < (size_t)st.st_size) {
		r = read(fd, text + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			e_no = errno;
			util_snprintf(err, errlen, "%s: %s", shown,
			    strerror(e_no));
			rc = KP_TEMP;
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*textp = text;
	*lenp = got;
	text = NULL;
	rc = KP_OK;
out:
	free(text);
	(void)close(fd);
	return rc;
}

int
mdir_uidlist_read(struct mdir *m, const struct md_opts *o,
    struct mdir_uidlist *u, char *err, size_t errlen)
{
	char *text, msg[128];
	size_t got;
	int rc;

	memset(u, 0, sizeof(*u));
	if ((rc = mdir_file_read(m, o, MDIR_UIDLIST, MD_UIDLIST_MAX, &text,
	    &got, err, errlen)) != KP_OK || text == NULL)
		return rc;	/* absent: never served by Dovecot */
	/* u owns text from now on. */
	if ((rc = mdir_uidlist_parse(u, text, got, err, errlen)) != KP_OK)
		return rc;
	if (u->unusable)
		mdir_file_note(m, MDIR_UIDLIST, "no usable header (version 3 "
		    "with V, or 1); every message gets its file name as UIDL");
	else if (u->bad > 0) {
		(void)util_snprintf(msg, sizeof(msg), "%zu broken lines left "
		    "out, the first line %zu", u->bad, u->first_bad);
		mdir_file_note(m, MDIR_UIDLIST, msg);
	}
	return KP_OK;
}

/* ---- the snapshot in Dovecot's order, with Dovecot's UIDLs ---- */

struct mdir_ukey {
	const struct mdir_urec	*rec;	/* or NULL: not in the file */
	size_t			 pos;	/* in kpopd's order */
};

/*
 * Dovecot's POP3 order: messages with an O field by it, then the rest
 * of the file's by UID; then those it never saw, in kpopd's order.
 */
static int
mdir_ukey_cmp(const void *va, const void *vb)
{
	const struct mdir_ukey *a = va, *b = vb;
	int ca, cb;

	ca = a->rec == NULL ? 2 : a->rec->order == MDIR_NONE ? 1 : 0;
	cb = b->rec == NULL ? 2 : b->rec->order == MDIR_NONE ? 1 : 0;
	if (ca != cb)
		return ca < cb ? -1 : 1;
	if (ca == 0 && a->rec->order != b->rec->order)
		return a->rec->order < b->rec->order ? -1 : 1;
	if (ca < 2 && a->rec->uid != b->rec->uid)
		return a->rec->uid < b->rec->uid ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

int
mdir_uidlist_apply(struct mdir *m, const struct md_opts *o, const char *fmt,
    struct md_msg *msgs, char *err, size_t errlen)
{
	struct mdir_uidlist u;
	struct mdir_ukey *k = NULL;
	struct mdir_ent *ne = NULL;
	size_t i;
	int rc;

	if ((rc = mdir_uidlist_read(m, o, &u, err, errlen)) != KP_OK) {
		mdir_uidlist_free(&u);
		return rc;
	}
	rc = KP_TEMP;
	if (m->n > 0 && ((k = calloc(m->n, sizeof(*k))) == NULL ||
	    (ne = calloc(m->n, sizeof(*ne))) == NULL)) {
		util_snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < m->n; i++) {
		k[i].pos = i;
		k[i].rec = u.unusable ? NULL : mdir_uidlist_find(&u,
		    m->ents[i].name, m->ents[i].baselen);
	}
	if (m->n > 1)
		qsort(k, m->n, sizeof(*k), mdir_ukey_cmp);
	for (i = 0; i < m->n; i++) {
		ne[i] = m->ents[k[i].pos];
		if (k[i].rec == NULL)
			md_uidl_from(ne[i].name, ne[i].baselen, msgs[i].uidl);
		else if (mdir_uidlist_uidl(&u, k[i].rec, fmt, msgs[i].uidl,
		    err, errlen) == -1) {
			rc = KP_PERM;	/* only a format kconf_check passed */
			goto out;
		}
	}
	if (m->n > 0)
		memcpy(m->ents, ne, m->n * sizeof(*ne));
	rc = KP_OK;
out:
	free(ne);
	free(k);
	mdir_uidlist_free(&u);
	return rc;
}
