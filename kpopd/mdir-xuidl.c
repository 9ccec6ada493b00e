/* SPDX-License-Identifier: MIT */
/*
 * kpopd/mdir-xuidl.c: X-UIDL headers as UIDLs, for a Maildir whose mail
 * an earlier server served so (qpopper and others that put an X-UIDL
 * field into each message, and Maildirs converted from their mboxes):
 * uidl_format = x-uidl:CUTOFF, kpopd.conf(5).
 *
 * An X-UIDL is a header field, and anyone who sends mail writes its
 * header: a forged X-UIDL equal to another message's UIDL, or to one a
 * client saw and deleted, would make a client that leaves mail on the
 * server (fetchmail keep, uidl) skip real mail for good.  So new mail
 * never chooses its UIDL:
 *
 *  - only messages delivered before the cutoff, by the leading seconds
 *    of the file name (the delivering MDA's clock, which no sender
 *    sets), have their X-UIDL honoured; the cutoff is a moment past;
 *  - only a valid UIDL (RFC 1939: 1 to 70 bytes 0x21-0x7E) on one
 *    line, in the first X-UIDL field of the first MD_XUIDL_HDR_MAX
 *    bytes, and never one in the form of the names MDAs make (leading
 *    seconds, a dot): those are the UIDLs of the mail that arrives
 *    after the switch, which gets its base name, so no honoured value
 *    can ever equal one, even after the message that holds it is gone;
 *  - a value two messages carry is honoured for the first in kpopd's
 *    order only, the later ones get their base names.
 *
 * The file name is the mail user's to change (as the mail is theirs to
 * delete): a renamed file hurts only its owner's own mail.  Nothing is
 * written; each login reads the start of every message delivered before
 * the cutoff.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/pop3.h"
#include "common/util.h"
#include "kpopd/mdir-int.h"

int
mdir_xuidl_scan(const char *buf, size_t len, int complete, char *out)
{
	const char *p = buf, *end = buf + len, *nl, *v, *e;
	size_t n;

	for (;;) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return complete ? 0 : -1;
		n = (size_t)(nl - p);
		if (n == 0 || (n == 1 && p[0] == '\r'))
			return 0;	/* the end of the header */
		if (n >= 7 && strncasecmp(p, "X-UIDL:", 7) == 0)
			break;
		p = nl + 1;
	}
	v = p + 7;
	e = nl;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (!pop3_uidl_ok(v, (size_t)(e - v)))
		return 0;
	if (nl + 1 == end && !complete)
		return -1;	/* folded on the next line? */
	if (nl + 1 < end && (nl[1] == ' ' || nl[1] == '\t'))
		return 0;	/* folded: an X-UIDL is one word, one line */
	memcpy(out, v, (size_t)(e - v));
	out[e - v] = '\0';
	return 1;
}

int
mdir_xuidl_mdaform(const char *uidl)
{
	const char *p;

	for (p = uidl; *p >= '0' && *p <= '9'; p++)
		;
	return p > uidl && *p == '.';
}

/*
 * The delivery time of entry e: the seconds its base name starts with
 * (before a "." or the end), or 0.  From the name, not e->secs: the
 * kpopd.cache listing gives names and sizes only.
 */
static unsigned long long
mdir_xuidl_secs(const struct mdir_ent *e)
{
	unsigned long long v;
	size_t k;

	for (k = 0; k < e->baselen && e->name[k] >= '0' && e->name[k] <= '9';
	    k++)
		;
	if (k == 0 || (k < e->baselen && e->name[k] != '.') ||
	    util_parse_uint(e->name, k, MD_SIZE_MAX, &v) == -1)
		return 0;
	return v;
}

/*
 * The X-UIDL of entry e into out, if it has a usable one: 1; else 0.
 * buf: MD_XUIDL_HDR_MAX bytes to read into.
 */
static int
mdir_xuidl_read(struct mdir *m, struct mdir_ent *e, char *buf, char *out)
{
	struct stat st;
	size_t got = 0;
	ssize_t r;
	int fd, rc = 0;

	fd = md_path_openat(m->dfd[e->dir], e->name, O_RDONLY | O_NONBLOCK,
	    0);
	if (fd == -1 && errno == ENOENT && mdir_scan_refresh(m) == 0)
		fd = md_path_openat(m->dfd[e->dir], e->name, O_RDONLY |
		    O_NONBLOCK, 0);	/* moved or reflagged since */
	if (fd == -1)
		return 0;	/* gone, or unreadable: RETR will say */
	if (fstat(fd, &st) == -1 || md_path_unfit(&st) != NULL)
		goto out;
	for (;;) {
		r = util_pread_full(fd, buf + got, MD_XUIDL_STEP, (off_t)got);
		if (r < 0)
			break;
		got += (size_t)r;
		rc = mdir_xuidl_scan(buf, got, (size_t)r < MD_XUIDL_STEP ||
		    got == MD_XUIDL_HDR_MAX, out);
		if (rc != -1)
			break;
	}
	if (rc == 1 && mdir_xuidl_mdaform(out))
		rc = 0;
out:
	(void)close(fd);
	return rc == 1;
}

/* An honoured X-UIDL: its message. */
struct mdir_xhon {
	const char	*uidl;
	size_t		 i;
};

static int
mdir_xhon_cmp(const void *va, const void *vb)
{
	const struct mdir_xhon *a = va, *b = vb;
	int c;

	if ((c = strcmp(a->uidl, b->uidl)) != 0)
		return c;
	return a->i < b->i ? -1 : a->i > b->i;
}

int
mdir_xuidl_apply(struct mdir *m, unsigned long long cutoff,
    struct md_msg *msgs, char *err, size_t errlen)
{
	struct mdir_xhon *hon = NULL;
	struct mdir_ent *e;
	unsigned long long secs;
	char *buf = NULL;
	size_t i, head, nh = 0;
	int rc = KP_TEMP;

	if (m->n > 0 && ((buf = malloc(MD_XUIDL_HDR_MAX)) == NULL ||
	    (hon = calloc(m->n, sizeof(*hon))) == NULL)) {
		util_snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < m->n; i++) {
		e = &m->ents[i];
		secs = mdir_xuidl_secs(e);
		if (secs != 0 && secs < cutoff &&
		    mdir_xuidl_read(m, e, buf, msgs[i].uidl)) {
			hon[nh].uidl = msgs[i].uidl;
			hon[nh++].i = i;
		} else
			md_uidl_from(e->name, e->baselen, msgs[i].uidl);
	}
	/* A value held twice: the first message keeps it. */
	if (nh > 1)
		qsort(hon, nh, sizeof(*hon), mdir_xhon_cmp);
	for (i = 1, head = 0; i < nh; i++) {
		if (strcmp(hon[i].uidl, hon[head].uidl) != 0) {
			head = i;
			continue;
		}
		/* The head's UIDL stays as it is: rewrite this one. */
		e = &m->ents[hon[i].i];
		md_uidl_from(e->name, e->baselen, msgs[hon[i].i].uidl);
	}
	rc = KP_OK;
out:
	free(hon);
	free(buf);
	return rc;
}
