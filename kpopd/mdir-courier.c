/* SPDX-License-Identifier: MIT */
/*
 * kpopd/mdir-courier.c: Courier's courierpop3dsizelist, read so that a
 * Maildir Courier's pop3d served keeps its UIDLs under kpopd
 * (uidl_format = courier, kpopd.conf(5)).
 *
 * Courier's pop3d (imap/pop3dserver.c) keeps, in the Maildir's top
 * directory, a header line and one line per message it listed:
 *
 *   /<version> <next uid> [<uidvalidity>]
 *   <file name> <size> <uid>:<uidvalidity>[:<utf8 flag>]
 *
 * version 2, or 3 with the flag; the file name is the one in cur/ and
 * may hold spaces (Courier splits at the last two).  Courier serves
 * "UID<uid>-<uidvalidity>" for such a message, "UID<uid>" when the
 * record's UIDVALIDITY is 0, and for uid 0, as Courier did before the
 * file carried UIDs (and as it still does without one), the base name
 * with every byte outside 0x21-0x7E and ' " + written as "+XX" (upper
 * case hex).  A message is found by its base name (before ":"), as
 * Courier finds it.  Courier's POP3 order is by the leading seconds of
 * the name, then by the name: kpopd's order already.
 *
 * What Courier never listed (mail that arrived after the switch, or
 * every message when the file is missing or its header unusable) gets
 * the escaped base name, which is the base name itself for every name
 * an MDA makes (time.unique.host); "UID" names are no such names, and
 * md_uidl_dedup settles any coincidence.  Courier's IMAP UIDs
 * (courierimapuiddb) never were its POP3 UIDLs and are not read.
 *
 * The mail user owns the file: it is read through mdir_file_read (no
 * symlink, the user's own, bounded), lines are bounded, every number
 * goes through util_parse_uint, and a line that breaks the format is
 * left out (and said once): its message gets its base name.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/util.h"
#include "kpopd/mdir-int.h"

#define MDIR_COURIER	"courierpop3dsizelist"

/* Digits only, as a number up to max: 0, or -1. */
static int
mdir_courier_num(const char *p, size_t n, unsigned long long max,
    unsigned long long *v)
{
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return -1;
	return util_parse_uint(p, n, max, v);
}

/* The header line (p, n): "/2 " or "/3 " and the next UID.  0, or -1. */
static int
mdir_courier_header(struct mdir_courier *c, const char *p, size_t n)
{
	const char *end = p + n, *f, *sp;
	unsigned long long v;

	if (n < 4 || p[0] != '/' || (p[1] != '2' && p[1] != '3') ||
	    p[2] != ' ')
		return -1;
	c->version = p[1] - '0';
	f = p + 3;
	if ((sp = memchr(f, ' ', (size_t)(end - f))) == NULL)
		sp = end;
	if (mdir_courier_num(f, (size_t)(sp - f), MD_COURIER_NUM_MAX,
	    &v) == -1)
		return -1;
	if (sp < end && mdir_courier_num(sp + 1, (size_t)(end - sp - 1),
	    MD_COURIER_NUM_MAX, &v) == -1)
		return -1;
	return 0;
}

/* One record line (p, n) into r.  0, or -1 if it breaks the format. */
static int
mdir_courier_record(const char *p, size_t n, struct mdir_crec *r)
{
	const char *end = p + n, *sp1, *sp2, *c1, *c2;
	unsigned long long v;

	memset(r, 0, sizeof(*r));
	/* The last two spaces: the name may hold others. */
	for (sp2 = end; sp2 > p && sp2[-1] != ' '; sp2--)
		;
	if (sp2 == p)
		return -1;
	sp2--;
	for (sp1 = sp2; sp1 > p && sp1[-1] != ' '; sp1--)
		;
	if (sp1 == p)
		return -1;
	sp1--;
	if (sp1 == p)
		return -1;	/* no name */
	if (mdir_courier_num(sp1 + 1, (size_t)(sp2 - sp1 - 1), MD_SIZE_MAX,
	    &v) == -1)
		return -1;	/* the size: checked, not used */
	/* <uid>:<uidvalidity>[:<utf8>] */
	if ((c1 = memchr(sp2 + 1, ':', (size_t)(end - sp2 - 1))) == NULL)
		return -1;
	if ((c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1))) == NULL)
		c2 = end;
	else if (mdir_courier_num(c2 + 1, (size_t)(end - c2 - 1), 1,
	    &v) == -1)
		return -1;
	if (mdir_courier_num(sp2 + 1, (size_t)(c1 - sp2 - 1),
	    MD_COURIER_NUM_MAX, &r->uid) == -1 ||
	    mdir_courier_num(c1 + 1, (size_t)(c2 - c1 - 1),
	    MD_COURIER_NUM_MAX, &r->uidv) == -1)
		return -1;
	if (memchr(p, '/', (size_t)(sp1 - p)) != NULL)
		return -1;
	r->name = p;
	r->namelen = (size_t)(sp1 - p);
	if ((c1 = memchr(p, ':', r->namelen)) != NULL)
		r->namelen = (size_t)(c1 - p);
	return r->namelen == 0 ? -1 : 0;
}

/* Note a broken line (1-based number ln): counted, the first kept. */
static void
mdir_courier_bad(struct mdir_courier *c, size_t ln)
{
	if (c->bad++ == 0)
		c->first_bad = ln;
}

/* The base name of record i (set: the struct mdir_courier). */
static void
mdir_crec_base(const void *set, size_t i, const char **namep, size_t *lenp)
{
	const struct mdir_courier *c = set;

	*namep = c->recs[i].name;
	*lenp = c->recs[i].namelen;
}

int
mdir_courier_parse(struct mdir_courier *c, char *text, size_t len,
    char *err, size_t errlen)
{
	const char *p, *nl, *end;
	struct mdir_crec *nr;
	size_t cap = 0, ln, n;

	memset(c, 0, sizeof(*c));
	c->text = text;
	c->len = len;
	end = text + len;
	for (p = text, ln = 1; p < end; p = nl + 1, ln++) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;	/* a last line without LF */
		n = (size_t)(nl - p);
		if (ln == 1) {
			if (n > MD_COURIER_LINE_MAX ||
			    memchr(p, '\0', n) != NULL ||
			    mdir_courier_header(c, p, n) == -1) {
				c->unusable = 1;
				return KP_OK;
			}
			continue;
		}
		if (n == 0 && nl == end)
			break;
		if (n > MD_COURIER_LINE_MAX || memchr(p, '\0', n) != NULL) {
			mdir_courier_bad(c, ln);
			continue;
		}
		if (c->n == MD_UIDLIST_RECS_MAX) {
			mdir_courier_bad(c, ln);
			break;
		}
		if (c->n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			if ((nr = reallocarray(c->recs, cap,
			    sizeof(*nr))) == NULL)
				goto nomem;
			c->recs = nr;
		}
		if (mdir_courier_record(p, n, &c->recs[c->n]) == -1)
			mdir_courier_bad(c, ln);
		else
			c->n++;
	}
	if (c->version == 0) {
		c->unusable = 1;	/* empty */
		return KP_OK;
	}
	if (c->n > 0 && (c->byname = mdir_name_index(c, c->n,
	    mdir_crec_base, 0)) == NULL)
		goto nomem;
	return KP_OK;
nomem:
	util_snprintf(err, errlen, "out of memory");
	return KP_TEMP;
}

const struct mdir_crec *
mdir_courier_find(const struct mdir_courier *c, const char *name, size_t len)
{
	const struct mdir_crec *best = NULL, *r;
	size_t i;

	if (c->n == 0)
		return NULL;
	/* A name listed twice (Courier never writes so): the first line. */
	for (i = mdir_name_find(c->byname, c->n, c, mdir_crec_base, name,
	    len); i < c->n; i++) {
		r = &c->recs[c->byname[i]];
		if (mdir_name_cmp(r->name, r->namelen, name, len) != 0)
			break;
		if (best == NULL || r < best)
			best = r;
	}
	return best;
}

void
mdir_courier_free(struct mdir_courier *c)
{
	free(c->byname);
	free(c->recs);
	free(c->text);
	memset(c, 0, sizeof(*c));
}

void
mdir_courier_uidl(const struct mdir_crec *r, const char *name, size_t len,
    char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	char buf[3 * NAME_MAX + 1];
	unsigned char ch;
	size_t i, k;

	if (r != NULL && r->uid != 0) {
		if (r->uidv != 0)
			(void)util_snprintf(buf, sizeof(buf), "UID%llu-%llu",
			    r->uid, r->uidv);
		else
			(void)util_snprintf(buf, sizeof(buf), "UID%llu",
			    r->uid);
		md_uidl_from(buf, strlen(buf), out);
		return;
	}
	/* Courier's first form: the base name, some bytes as +XX. */
	for (i = k = 0; i < len && k + 3 < sizeof(buf); i++) {
		ch = (unsigned char)name[i];
		if (ch < 0x21 || ch > 0x7e || ch == '\'' || ch == '"' ||
		    ch == '+') {
			buf[k++] = '+';
			buf[k++] = hex[ch >> 4];
			buf[k++] = hex[ch & 15];
		} else
			buf[k++] = (char)ch;
	}
	if (i < len) {
		/* Longer than any file name: no valid UIDL anyway. */
		md_uidl_from(name, len, out);
		return;
	}
	md_uidl_from(buf, k, out);
}

int
mdir_courier_apply(struct mdir *m, const struct md_opts *o,
    struct md_msg *msgs, char *err, size_t errlen)
{
	struct mdir_courier c;
	const struct mdir_crec *r;
	char *text, msg[128];
	size_t got, i;
	int rc;

	memset(&c, 0, sizeof(c));
	if ((rc = mdir_file_read(m, o, MDIR_COURIER, MD_UIDLIST_MAX, &text,
	    &got, err, errlen)) != KP_OK)
		return rc;
	if (text != NULL) {
		if ((rc = mdir_courier_parse(&c, text, got, err, errlen)) !=
		    KP_OK)
			goto out;
		if (c.unusable)
			mdir_file_note(m, MDIR_COURIER, "no usable header (/2 "
			    "or /3); every message gets its file name as "
			    "UIDL");
		else if (c.bad > 0) {
			(void)util_snprintf(msg, sizeof(msg), "%zu broken "
			    "lines left out, the first line %zu", c.bad,
			    c.first_bad);
			mdir_file_note(m, MDIR_COURIER, msg);
		}
	}
	for (i = 0; i < m->n; i++) {
		r = c.unusable ? NULL : mdir_courier_find(&c,
		    m->ents[i].name, m->ents[i].baselen);
		mdir_courier_uidl(r, m->ents[i].name, m->ents[i].baselen,
		    msgs[i].uidl);
	}
	rc = KP_OK;
out:
	mdir_courier_free(&c);
	return rc;
}
