/* SPDX-License-Identifier: MIT */
/*
 * kpop/st-journal.c: how the UIDL state is kept on disk (st-int.h): the
 * record format (a line of fields with a CRC-32), loading the snapshot
 * and replaying the journal into the table, appending records durably
 * (journalled and fsynced before the table changes, so what the table
 * says was durable when it said it), and writing a new snapshot.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/pop3.h"
#include "common/util.h"
#include "kpop/deliver.h"
#include "kpop/state.h"
#include "kpop/st-int.h"

/* Fields of a record before its CRC: "I", the UIDL, eight of <where>. */
#define ST_FIELDS_MAX	10
/* The CRC field: CRC-32 as 8 hex digits. */
#define ST_CRC_HEX	8
/* Fields of <where>. */
#define ST_WHERE_FIELDS	8

/* ---- small helpers ---- */

/* CRC-32 (IEEE 802.3, as zlib), bit by bit: records are short. */
static uint32_t
st_crc32(const char *p, size_t n)
{
	uint32_t c = 0xffffffffU;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= (unsigned char)p[i];
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320U & (0U - (c & 1U)));
	}
	return ~c;
}

/* n hex digits at s as n / 2 bytes at out.  0 or -1. */
static int
st_unhex(const char *s, size_t n, unsigned char *out)
{
	size_t i;
	int hi, lo;

	for (i = 0; i + 1 < n; i += 2) {
		if ((hi = util_xdigit(s[i])) == -1 ||
		    (lo = util_xdigit(s[i + 1])) == -1)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return n % 2 == 0 ? 0 : -1;
}


/* ---- making records ---- */

/* A record of type t for uidl (checked valid), with w or NULL. */
void
st_journal_rec(struct st_r *r, char t, const char *uidl,
    const struct dlv_where *w)
{
	memset(r, 0, sizeof(*r));
	r->type = t;
	(void)util_strlcpy(r->uidl, uidl, sizeof(r->uidl));
	r->w = w;
}

struct st_out {
	char	*p;
	size_t	 size, n;
	int	 full;
};

static void st_out_fmt(struct st_out *, const char *, ...) KP_PRINTF(2, 3);

static void
st_out_fmt(struct st_out *o, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (o->full)
		return;
	va_start(ap, fmt);
	k = vsnprintf(o->p + o->n, o->size - o->n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= o->size - o->n)
		o->full = 1;
	else
		o->n += (size_t)k;
}

/*
 * " " and s percent-encoded: bytes outside 0x21-0x7E and '%' as %XX;
 * "" is "-" and "-" itself "%2D", so "-" can mean none.
 */
static void
st_out_str(struct st_out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (*p == '\0') {
		st_out_fmt(o, " -");
		return;
	}
	if (strcmp(s, "-") == 0) {
		st_out_fmt(o, " %%2D");
		return;
	}
	st_out_fmt(o, " ");
	for (; *p != '\0' && !o->full; p++)
		if (*p < 0x21 || *p > 0x7e || *p == '%')
			st_out_fmt(o, "%%%02X", *p);
		else
			st_out_fmt(o, "%c", *p);
}

static char
st_kind_char(enum dlv_kind k)
{
	switch (k) {
	case DLV_MAILDIR:
		return 'm';
	case DLV_MBOX:
		return 'b';
	case DLV_MDA:
		return 'p';
	case DLV_LMTP:
		return 'l';
	case DLV_SMTP:
		return 't';
	default:
		return 's';
	}
}

static void
st_out_where(struct st_out *o, const struct dlv_where *w)
{
	char sha[2 * DLV_SHA256_LEN + 1];

	st_out_fmt(o, " %c", st_kind_char(w->kind));
	st_out_str(o, w->token);
	st_out_fmt(o, " %llu", w->size);
	if (w->placed) {
		util_hex(w->sha256, sizeof(w->sha256), sha);
		st_out_fmt(o, " %llu %llu %s", w->offset, w->len, sha);
	} else
		st_out_fmt(o, " - - -");
	st_out_str(o, w->arg);
	st_out_str(o, w->name);
}

/* Make r's line (with CRC and LF) in st->line; its length, or 0. */
static size_t
st_format(struct st *st, const struct st_r *r)
{
	struct st_out o = { st->line, sizeof(st->line), 0, 0 };
	uint32_t crc;

	if (r->type == 'S' || r->type == 'J')
		st_out_fmt(&o, "%c %llu", r->type, r->gen);
	else
		st_out_fmt(&o, "%c %s", r->type, r->uidl);
	if (r->w != NULL)
		st_out_where(&o, r->w);
	if (o.full)
		return 0;
	crc = st_crc32(o.p, o.n);
	st_out_fmt(&o, " %08x\n", (unsigned int)crc);
	return o.full ? 0 : o.n;
}

/* ---- reading records ---- */

struct st_fields {
	const char	*f[ST_FIELDS_MAX];
	size_t		 len[ST_FIELDS_MAX];
	size_t		 n;
};

/* Check the CRC of the n bytes of a line (no LF) and split them. */
static int
st_split(const char *line, size_t n, struct st_fields *fs)
{
	unsigned char crc[4];
	size_t i, start = 0, body;
	uint32_t want;

	if (n < ST_CRC_HEX + 2 || line[n - ST_CRC_HEX - 1] != ' ' ||
	    st_unhex(line + n - ST_CRC_HEX, ST_CRC_HEX, crc) == -1)
		return -1;
	body = n - ST_CRC_HEX - 1;
	want = (uint32_t)crc[0] << 24 | (uint32_t)crc[1] << 16 |
	    (uint32_t)crc[2] << 8 | crc[3];
	if (st_crc32(line, body) != want)
		return -1;
	fs->n = 0;
	for (i = 0; i <= body; i++) {
		if (i < body && line[i] != ' ')
			continue;
		if (i == start || fs->n == ST_FIELDS_MAX)
			return -1;
		fs->f[fs->n] = line + start;
		fs->len[fs->n++] = i - start;
		start = i + 1;
	}
	return 0;
}

/* Decode a string field into out (of outlen).  0 or -1. */
static int
st_dec(const char *s, size_t n, char *out, size_t outlen)
{
	unsigned char b;
	size_t i, o = 0;

	if (n == 1 && s[0] == '-') {
		out[0] = '\0';
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (s[i] != '%')
			b = (unsigned char)s[i];
		else if (i + 2 >= n || st_unhex(s + i + 1, 2, &b) == -1 ||
		    b == '\0')
			return -1;
		else
			i += 2;
		if (o + 1 >= outlen)
			return -1;
		out[o++] = (char)b;
	}
	out[o] = '\0';
	return 0;
}

static int
st_num(const char *s, size_t n, unsigned long long *v)
{
	return util_parse_uint(s, n, ULLONG_MAX, v);
}

static int
st_is_none(const char *s, size_t n)
{
	return n == 1 && s[0] == '-';
}

static int
st_kind(char c, enum dlv_kind *k)
{
	static const enum dlv_kind kinds[] = { DLV_MAILDIR, DLV_MBOX,
	    DLV_MDA, DLV_STDOUT, DLV_LMTP, DLV_SMTP };
	size_t i;

	for (i = 0; i < KP_NELEM(kinds); i++)
		if (st_kind_char(kinds[i]) == c) {
			*k = kinds[i];
			return 0;
		}
	return -1;
}

/* The offset, length and digest of a placed mbox append, or "- - -". */
static int
st_parse_place(const struct st_fields *fs, size_t at, struct dlv_where *w)
{
	if (st_is_none(fs->f[at], fs->len[at]) &&
	    st_is_none(fs->f[at + 1], fs->len[at + 1]) &&
	    st_is_none(fs->f[at + 2], fs->len[at + 2]))
		return 0;
	w->placed = 1;
	if (st_num(fs->f[at], fs->len[at], &w->offset) == -1 ||
	    st_num(fs->f[at + 1], fs->len[at + 1], &w->len) == -1 ||
	    fs->len[at + 2] != 2 * DLV_SHA256_LEN ||
	    st_unhex(fs->f[at + 2], fs->len[at + 2], w->sha256) == -1)
		return -1;
	return 0;
}

/* <where> from field at on. */
static int
st_parse_where(const struct st_fields *fs, size_t at, struct dlv_where *w)
{
	memset(w, 0, sizeof(*w));
	if (fs->n != at + ST_WHERE_FIELDS || fs->len[at] != 1 ||
	    st_kind(fs->f[at][0], &w->kind) == -1 ||
	    st_dec(fs->f[at + 1], fs->len[at + 1], w->token,
	    sizeof(w->token)) == -1 ||
	    (w->token[0] != '\0' && !dlv_token_valid(w->token)) ||
	    st_num(fs->f[at + 2], fs->len[at + 2], &w->size) == -1 ||
	    st_parse_place(fs, at + 3, w) == -1 ||
	    st_dec(fs->f[at + 6], fs->len[at + 6], w->arg,
	    sizeof(w->arg)) == -1 ||
	    st_dec(fs->f[at + 7], fs->len[at + 7], w->name,
	    sizeof(w->name)) == -1)
		return -1;
	return 0;
}

/*
 * Parse the n bytes of one line (no LF) into r; w is the storage for its
 * <where>.  0 or -1 (torn or corrupt).
 */
static int
st_parse(const char *line, size_t n, struct st_r *r, struct dlv_where *w)
{
	struct st_fields fs;
	char t;

	if (st_split(line, n, &fs) == -1 || fs.len[0] != 1)
		return -1;
	memset(r, 0, sizeof(*r));
	r->type = t = fs.f[0][0];
	if (t == 'S' || t == 'J')
		return fs.n == 2 && st_num(fs.f[1], fs.len[1], &r->gen) == 0 ?
		    0 : -1;
	if (strchr("IDKXF", t) == NULL || fs.n < 2 ||
	    fs.len[1] > POP3_UIDL_MAX)
		return -1;
	memcpy(r->uidl, fs.f[1], fs.len[1]);
	r->uidl[fs.len[1]] = '\0';
	if (!pop3_uidl_ok(r->uidl, strlen(r->uidl)))
		return -1;
	if (t == 'I' || (t == 'D' && fs.n > 2)) {
		r->w = w;
		return st_parse_where(&fs, 2, w);
	}
	return fs.n == 2 ? 0 : -1;
}

/* The whole file open as fd into *bufp (NUL-terminated), *lenp. */
static int
st_slurp(int fd, const char *path, char **bufp, size_t *lenp, char *err,
    size_t errlen)
{
	struct stat sb;
	size_t got = 0;
	ssize_t r;
	char *buf;

	*bufp = NULL;
	if (fstat(fd, &sb) == -1) {
		(void)util_snprintf(err, errlen,
		    "%s: %s", path, strerror(errno));
		return KP_TEMP;
	}
	if (sb.st_size > ST_FILE_MAX) {
		(void)util_snprintf(err, errlen,
		    "%s: larger than %d bytes", path,
		    ST_FILE_MAX);
		return KP_TEMP;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		(void)util_snprintf(err, errlen, "%s: out of memory", path);
		return KP_TEMP;
	}
	while (got < (size_t)sb.st_size) {
		r = pread(fd, buf + got, (size_t)sb.st_size - got, (off_t)got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < (size_t)sb.st_size) {
		(void)util_snprintf(err, errlen,
		    "%s: read: %s", path, strerror(errno));
		free(buf);
		return KP_TEMP;
	}
	buf[got] = '\0';
	*bufp = buf;
	*lenp = got;
	return KP_OK;
}

/*
 * Replay the records in buf (len bytes) whose first record must be the
 * header head ('S' or 'J').  *gen gets the header's generation, *good the
 * length of the good records.  A journal (torn_ok) may end in one bad
 * record, which is left out of *good; a journal whose header is missing
 * or torn, or older than min_gen, is skipped whole (returns 1, *good 0).
 * Returns 0, 1, or KP_TEMP (corrupt, or no memory).
 */
static int
st_replay(struct st *st, const char *buf, size_t len, char head,
    int torn_ok, unsigned long long min_gen, unsigned long long *gen,
    size_t *good, const char *path, char *err, size_t errlen)
{
	struct dlv_where w;
	struct st_r r;
	const char *nl;
	size_t at = 0, lineno = 0;

	*good = 0;
	while (at < len) {
		lineno++;
		nl = memchr(buf + at, '\n', len - at);
		if (nl == NULL || st_parse(buf + at, (size_t)(nl - buf) - at,
		    &r, &w) == -1 || (lineno == 1 ? r.type != head :
		    r.type == 'S' || r.type == 'J')) {
			if (torn_ok && (nl == NULL || (size_t)(nl - buf) + 1 ==
			    len))
				return lineno == 1 ? 1 : 0;
			(void)util_snprintf(err, errlen,
			    "%s: line %zu is corrupt", path,
			    lineno);
			return KP_TEMP;
		}
		if (lineno == 1 && (*gen = r.gen) < min_gen)
			return 1;
		if (lineno > 1 && st_table_apply(st, &r) == -1) {
			(void)util_snprintf(err, errlen,
			    "%s: out of memory", path);
			return KP_TEMP;
		}
		at = (size_t)(nl - buf) + 1;
		*good = at;
	}
	return lineno == 0 ? 1 : 0;
}

/* ---- the journal ---- */

static int
st_path(const struct st *st, const char *name, char *out, size_t outlen)
{
	return util_snprintf(out, outlen, "%s/%s", st->dir, name);
}

/* Start the journal over at generation gen, empty but for its header. */
int
st_journal_reset(struct st *st, unsigned long long gen, char *err,
    size_t errlen)
{
	struct st_r r = { 'J', "", gen, NULL };
	size_t n = st_format(st, &r);

	if (ftruncate(st->jfd, 0) == -1 ||
	    util_write_all(st->jfd, st->line, n, -1) == -1 ||
	    fsync(st->jfd) == -1) {
		(void)util_snprintf(err, errlen, "%s/journal: %s", st->dir,
		    strerror(errno));
		st->broken = 1;
		return KP_TEMP;
	}
	st->jsize = (off_t)n;
	st->gen = gen;
	st->broken = 0;
	return KP_OK;
}

/* Load the snapshot, if any.  Sets st->gen. */
int
st_journal_load_snapshot(struct st *st, char *err, size_t errlen)
{
	char path[PATH_MAX], *buf;
	size_t len, good;
	int fd, rc;

	st->gen = 0;
	if (st_path(st, "state", path, sizeof(path)) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return KP_OK;
		(void)util_snprintf(err, errlen,
		    "%s: %s", path, strerror(errno));
		return KP_TEMP;
	}
	rc = st_slurp(fd, path, &buf, &len, err, errlen);
	(void)close(fd);
	if (rc != KP_OK)
		return rc;
	rc = st_replay(st, buf, len, 'S', 0, 0, &st->gen, &good, path, err,
	    errlen);
	free(buf);
	if (rc == 1) {
		(void)util_snprintf(err, errlen, "%s: no header", path);
		return KP_TEMP;
	}
	return rc;
}

/*
 * Open and replay the journal; cut a torn record off its end, and start
 * it over when it is missing, empty, torn at its header, or stale.
 */
int
st_journal_load(struct st *st, char *err, size_t errlen)
{
	char path[PATH_MAX], *buf;
	unsigned long long gen = 0;
	size_t len, good;
	int rc;

	if (st_path(st, "journal", path, sizeof(path)) == -1 ||
	    (st->jfd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW | O_NOCTTY, 0600)) == -1) {
		(void)util_snprintf(err, errlen,
		    "%s: %s", path, strerror(errno));
		return KP_TEMP;
	}
	if ((rc = st_slurp(st->jfd, path, &buf, &len, err, errlen)) != KP_OK)
		return rc;
	rc = st_replay(st, buf, len, 'J', 1, st->gen, &gen, &good, path, err,
	    errlen);
	free(buf);
	if (rc == KP_TEMP)
		return rc;
	/* A new journal must not vanish with the directory entry. */
	if (rc == 1)
		return st_journal_reset(st, st->gen, err, errlen) == KP_OK &&
		    util_fsync_dir(st->dir) == 0 ? KP_OK : KP_TEMP;
	if (gen > st->gen)
		st->gen = gen;
	st->jsize = (off_t)good;
	if (good < len && (ftruncate(st->jfd, (off_t)good) == -1 ||
	    fsync(st->jfd) == -1)) {
		(void)util_snprintf(err, errlen,
		    "%s: cutting a torn record: %s", path,
		    strerror(errno));
		return KP_TEMP;
	}
	return KP_OK;
}

/* Append the n-byte line in st->line, without fsync. */
static int
st_jwrite(struct st *st, size_t n, char *err, size_t errlen)
{
	if (n == 0) {
		(void)util_snprintf(err, errlen,
		    "%s/journal: record too long", st->dir);
		return KP_TEMP;
	}
	if (util_write_all(st->jfd, st->line, n, -1) == -1) {
		(void)util_snprintf(err, errlen,
		    "%s/journal: write: %s", st->dir,
		    strerror(errno));
		return KP_TEMP;
	}
	return KP_OK;
}

/*
 * After the records from start: fsync them (ok) or cut them off again.
 * A journal that cannot be cut back is broken: no more records.
 */
static int
st_jsync(struct st *st, int ok, char *err, size_t errlen)
{
	struct stat sb;

	if (ok && fsync(st->jfd) == 0 && fstat(st->jfd, &sb) == 0) {
		st->jsize = sb.st_size;
		return KP_OK;
	}
	if (ok)
		(void)util_snprintf(err, errlen,
		    "%s/journal: fsync: %s", st->dir,
		    strerror(errno));
	if (ftruncate(st->jfd, st->jsize) == -1 || fsync(st->jfd) == -1)
		st->broken = 1;
	return KP_TEMP;
}

/* Journal n records durably, then apply them. */
int
st_journal_log(struct st *st, const struct st_r *r, size_t n, char *err,
    size_t errlen)
{
	size_t i;
	int ok = 1;

	if (st->broken) {
		(void)util_snprintf(err, errlen,
		    "%s/journal: an earlier write failed "
		    "and could not be undone", st->dir);
		return KP_TEMP;
	}
	for (i = 0; i < n && ok; i++)
		ok = st_jwrite(st, st_format(st, &r[i]), err, errlen) == KP_OK;
	if (st_jsync(st, ok, err, errlen) != KP_OK)
		return KP_TEMP;
	for (i = 0; i < n; i++)
		if (st_table_apply(st, &r[i]) == -1) {
			(void)util_snprintf(err, errlen, "out of memory");
			return KP_TEMP;
		}
	return KP_OK;
}
static void
st_ent_rec(const struct st_ent *e, struct st_r *r)
{
	static const char type[] = { 'F', 'I', 'D', 'K', 'X' };

	st_journal_rec(r, type[e->status], e->uidl, e->status == ST_PENDING ?
	    e->w : NULL);
}

/* Write every entry's record to fp after the header; 0 or -1. */
static int
st_write_entries(struct st *st, FILE *fp, unsigned long long gen)
{
	struct st_r r = { 'S', "", gen, NULL };
	struct st_ent *e;
	size_t i, n;

	n = st_format(st, &r);
	if (n == 0 || fwrite(st->line, 1, n, fp) != n)
		return -1;
	for (i = 0; i < st->nb; i++)
		for (e = st->tab[i]; e != NULL; e = e->next) {
			st_ent_rec(e, &r);
			n = st_format(st, &r);
			if (n == 0 || fwrite(st->line, 1, n, fp) != n)
				return -1;
		}
	return 0;
}

/* Write the snapshot of generation gen: tmp, fsync, rename, fsync dir. */
int
st_journal_snapshot(struct st *st, unsigned long long gen, char *err,
    size_t errlen)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	FILE *fp = NULL;
	int fd, ok;

	if (st_path(st, "state.tmp", tmp, sizeof(tmp)) == -1 ||
	    st_path(st, "state", path, sizeof(path)) == -1) {
		(void)util_snprintf(err, errlen, "%s: path too long", st->dir);
		return KP_TEMP;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW | O_NOCTTY, 0600)) == -1 ||
	    (fp = fdopen(fd, "w")) == NULL) {
		(void)util_snprintf(err, errlen,
		    "%s: %s", tmp, strerror(errno));
		if (fd != -1)
			(void)close(fd);
		return KP_TEMP;
	}
	ok = st_write_entries(st, fp, gen) == 0 && fflush(fp) == 0 &&
	    fsync(fd) == 0;
	if (fclose(fp) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) == -1 || util_fsync_dir(st->dir) == -1) {
		(void)util_snprintf(err, errlen, "%s: %s", ok ? path : tmp,
		    strerror(errno));
		(void)unlink(tmp);
		return KP_TEMP;
	}
	return KP_OK;
}

