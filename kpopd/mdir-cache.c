/* SPDX-License-Identifier: MIT */
/*
 * kpopd/mdir-cache.c: kpopd.cache, the Maildir backend's record of
 * message sizes and of the listing, read at open and rewritten when it
 * no longer matches (maildir.c decides when).
 *
 * A size from the cache is trusted only while the file's physical size
 * (",S=" in the name, else stat) matches the entry, and a cache that
 * fails its checksum is thrown away.  The cache is rewritten atomically
 * (temporary file, fsync, rename).
 *
 * The cache (format 2) is also the listing: every message of the
 * snapshot, in snapshot order, with its full name, and the identity of
 * new/ and cur/ as they were read (device, inode, ctime, mtime).  When
 * both directories are still exactly that, the next open takes the
 * listing as it is: no readdir, no stat, no sort.  Any create, rename or
 * unlink in a directory moves its ctime, which no user can set back.  A
 * directory whose ctime is not yet in the past of the kernel's clock (and
 * of the storage's, on NFS) when it is read is not recorded (a change in
 * the same clock tick would not show; see mdir_scan_dir), so the next
 * open reads it again.  Format 1
 * (sizes by base name only) is still read, for its sizes.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/util.h"
#include "kpopd/mdir-int.h"

#define MDIR_CACHE	"kpopd.cache"
#define MDIR_CACHE_TMP	"kpopd.cache.tmp"
#define MDIR_CACHE_MAGIC1 "kpopd-cache 1\n"
#define MDIR_CACHE_MAGIC "kpopd-cache 2\n"
#define MDIR_CACHE_DIRS	"dirs "
#define MDIR_CACHE_END	"/end "

/*
 * Whether a base name can go into the cache as a word: one the scan would
 * list (never a dot file, so never "." or "..").
 */
static int
mdir_cacheable(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > NAME_MAX || s[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e ||
		    s[i] == '/')
			return 0;
	return 1;
}

/*
 * The listing in the cache, taken as the snapshot: entries in its order,
 * with its sizes.  Returns KP_OK, or KP_TEMP (no memory) with err set.
 */
int
mdir_cache_listing(struct mdir *m, char *err, size_t errlen)
{
	const struct mdir_centry *ce;
	struct mdir_ent *e;
	size_t i;

	if ((m->ents = calloc(m->ncache + 1, sizeof(*m->ents))) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return KP_TEMP;
	}
	for (i = 0; i < m->ncache; i++) {
		ce = &m->cache[i];
		e = &m->ents[i];
		/*
		 * The name is the line's last field: its newline becomes
		 * its NUL, and the text stays for the session.  Its
		 * size came from the cache; the name is read no further.
		 */
		e->name = (char *)(uintptr_t)ce->name;
		e->name[ce->fulllen] = '\0';
		e->borrowed = 1;
		e->baselen = ce->namelen;
		e->s = e->w = MDIR_NONE;
		e->dir = ce->dir;
		e->phys = ce->phys;
		e->size = ce->size;
		m->n = i + 1;
	}
	m->listed = 1;
	return KP_OK;
}

/* Parse "-" or "DEV.INO.CSEC.CNSEC.MSEC.MNSEC".  0, or -1. */
static int
mdir_stamp_parse(const char *p, size_t len, struct mdir_stamp *st)
{
	unsigned long long *f[6];
	const char *dot;
	size_t i;

	memset(st, 0, sizeof(*st));
	if (len == 1 && p[0] == '-')
		return 0;
	f[0] = &st->dev;
	f[1] = &st->ino;
	f[2] = &st->csec;
	f[3] = &st->cnsec;
	f[4] = &st->msec;
	f[5] = &st->mnsec;
	for (i = 0; i < 6; i++) {
		dot = i < 5 ? memchr(p, '.', len) : p + len;
		if (dot == NULL || util_parse_uint(p, (size_t)(dot - p),
		    ULLONG_MAX, f[i]) == -1)
			return -1;
		if (i < 5) {
			len -= (size_t)(dot - p) + 1;
			p = dot + 1;
		}
	}
	st->valid = 1;
	return 0;
}

/*
 * One entry line.  Format 1: "BASE PHYS SIZE"; format 2: "D PHYS SIZE
 * NAME" (D is n or c, PHYS may be "-").  Returns 0, or -1.
 */
static int
mdir_cache_line(const char *p, const char *nl, int v1, struct mdir_centry *ce)
{
	const char *f[4], *q = p, *colon;
	size_t len[4], i, nf = v1 ? 3 : 4;

	memset(ce, 0, sizeof(*ce));
	for (i = 0; i < nf; i++) {
		const char *sp = i + 1 < nf ?
		    memchr(q, ' ', (size_t)(nl - q)) : nl;

		if (sp == NULL)
			return -1;
		f[i] = q;
		len[i] = (size_t)(sp - q);
		q = sp + 1;
	}
	/* Both formats: PHYS is field 1, SIZE field 2. */
	if (v1) {
		ce->name = f[0];
		ce->fulllen = ce->namelen = len[0];
	} else {
		if (len[0] != 1 || (f[0][0] != 'n' && f[0][0] != 'c'))
			return -1;
		ce->dir = f[0][0] == 'n' ? MDIR_NEW : MDIR_CUR;
		ce->name = f[3];
		ce->fulllen = len[3];
		colon = memchr(f[3], ':', len[3]);
		ce->namelen = colon != NULL ? (size_t)(colon - f[3]) : len[3];
	}
	/*
	 * Both formats write only names mdir_cacheable() passed; anything
	 * else (a name past NAME_MAX, which no open could find, a '/' that
	 * would leave the directory) is not a cache we wrote.
	 */
	if (!mdir_cacheable(ce->name, ce->fulllen))
		return -1;
	if (!v1 && len[1] == 1 && f[1][0] == '-')
		ce->phys = MDIR_NONE;
	else if (util_parse_uint(f[1], len[1], MD_SIZE_MAX, &ce->phys) == -1)
		return -1;
	if (util_parse_uint(f[2], len[2], MD_SIZE_MAX, &ce->size) == -1)
		return -1;
	/* POP3 octets: each byte, plus at most a CR per byte and 2. */
	if (ce->phys != MDIR_NONE &&
	    (ce->size < ce->phys || ce->size > 2 * ce->phys + 2))
		return -1;
	return 0;
}

/*
 * Parse the cache text (NUL-terminated, len bytes).  Returns 0, or -1 if
 * it is not a whole, well-formed, checksummed cache.
 */
static int
mdir_cache_parse(struct mdir *m, size_t len)
{
	struct md_hash h;
	unsigned char dig[MD_HASH_LEN];
	char hex[2 * MD_HASH_LEN + 1];
	const char *p, *nl, *sp1, *end = m->ctext + len;
	struct mdir_centry *ce;
	unsigned long long cnt;
	size_t cap = 0, ml = strlen(MDIR_CACHE_MAGIC);
	int rc = -1, v1;

	if (len >= ml && memcmp(m->ctext, MDIR_CACHE_MAGIC, ml) == 0)
		v1 = 0;
	else if (len >= ml && memcmp(m->ctext, MDIR_CACHE_MAGIC1, ml) == 0)
		v1 = 1;
	else
		return -1;
	m->cache_v1 = v1;
	if (md_hash_init(&h) == -1)
		return -1;
	md_hash_update(&h, m->ctext, ml);
	p = m->ctext + ml;
	if (!v1) {
		/* "dirs NEW CUR" */
		size_t dl = strlen(MDIR_CACHE_DIRS);

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
		    nl - p > MD_CACHE_LINE_MAX || (size_t)(nl - p) < dl ||
		    memcmp(p, MDIR_CACHE_DIRS, dl) != 0 ||
		    (sp1 = memchr(p + dl, ' ', (size_t)(nl - p - dl))) ==
		    NULL ||
		    mdir_stamp_parse(p + dl, (size_t)(sp1 - p - dl),
		    &m->cstamp[MDIR_NEW]) == -1 ||
		    mdir_stamp_parse(sp1 + 1, (size_t)(nl - sp1 - 1),
		    &m->cstamp[MDIR_CUR]) == -1)
			goto out;
		md_hash_update(&h, p, (size_t)(nl - p) + 1);
		p = nl + 1;
	}
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
		    nl - p > MD_CACHE_LINE_MAX)
			goto out;
		if (nl - p > 5 && memcmp(p, MDIR_CACHE_END, 5) == 0)
			break;
		if (m->ncache == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			if (cap > MD_MSGS_MAX * 2 + 256)
				goto out;
			if ((ce = reallocarray(m->cache, cap,
			    sizeof(*ce))) == NULL)
				goto out;
			m->cache = ce;
		}
		ce = &m->cache[m->ncache];
		if (mdir_cache_line(p, nl, v1, ce) == -1)
			goto out;
		/* Format 1 is strictly sorted by base name. */
		if (v1 && m->ncache > 0 && mdir_name_cmp(m->cache[m->ncache -
		    1].name, m->cache[m->ncache - 1].namelen, ce->name,
		    ce->namelen) >= 0)
			goto out;
		m->ncache++;
		md_hash_update(&h, p, (size_t)(nl - p) + 1);
	}
	/*
	 * The trailer, last in the file: "/end COUNT SHA256-HEX" (no name
	 * holds a "/"), the hash over everything before it.
	 */
	if (p >= end || nl + 1 != end)
		goto out;
	p += 5;
	if ((sp1 = memchr(p, ' ', (size_t)(nl - p))) == NULL ||
	    nl - sp1 - 1 != 2 * MD_HASH_LEN ||
	    util_parse_uint(p, (size_t)(sp1 - p), MD_SIZE_MAX, &cnt) == -1 ||
	    cnt != m->ncache)
		goto out;
	if (md_hash_final(&h, dig) == -1)
		goto out;
	util_hex(dig, MD_HASH_LEN, hex);
	if (memcmp(sp1 + 1, hex, 2 * MD_HASH_LEN) != 0)
		goto out;
	rc = 0;
out:
	md_hash_free(&h);
	if (rc == -1) {
		free(m->cache);
		m->cache = NULL;
		m->ncache = 0;
		memset(m->cstamp, 0, sizeof(m->cstamp));
	}
	return rc;
}

/*
 * Whether kpopd.cache is absent or a file kpopd could have written: a
 * symlink, another account's file, one with more links is refused.
 * fd >= 0: the open cache; else it is looked at by name.  Returns KP_OK
 * or KP_PERM with err set.
 */
int
mdir_cache_check(struct mdir *m, int fd, const struct md_opts *o,
    char *err, size_t errlen)
{
	struct stat st;
	char shown[PATH_MAX];

	(void)util_snprintf(shown, sizeof(shown), "%s/%s", m->path,
	    MDIR_CACHE);
	if (fd >= 0 ? fstat(fd, &st) == -1 : fstatat(m->rootfd, MDIR_CACHE,
	    &st, AT_SYMLINK_NOFOLLOW) == -1)
		return KP_OK;	/* none: nothing to trust */
	if (S_ISLNK(st.st_mode)) {
		util_snprintf(err, errlen, "%s: a symbolic link; refused",
		    shown);
		return KP_PERM;
	}
	return md_path_check(&st, MD_K_FILE, o, shown, err, errlen);
}

/*
 * Read the cache.  A missing one is empty; a bad one is ignored; one
 * kpopd did not write (mdir_cache_check) refuses the maildrop.  Returns
 * KP_OK, or a status with err set.
 */
int
mdir_cache_load(struct mdir *m, const struct md_opts *o, char *err,
    size_t errlen)
{
	struct stat st;
	ssize_t r;
	size_t len;
	int fd, rc;

	fd = md_path_openat(m->rootfd, MDIR_CACHE, O_RDONLY | O_NONBLOCK, 0);
	if (fd == -1) {
		if (errno == ENOENT)
			return KP_OK;
		rc = errno;
		(void)util_snprintf(err, errlen, "%s/%s", m->path, MDIR_CACHE);
		return md_path_failed(m->rootfd, MDIR_CACHE, err, rc, err,
		    errlen);
	}
	if ((rc = mdir_cache_check(m, fd, o, err, errlen)) != KP_OK) {
		(void)close(fd);
		return rc;
	}
	rc = KP_OK;
	if (fstat(fd, &st) == -1 ||
	    st.st_size > (off_t)MD_MSGS_MAX * 2 * MD_CACHE_LINE_MAX) {
		m->cache_bad = 1;
		goto out;
	}
	len = (size_t)st.st_size;
	if ((m->ctext = malloc(len + 1)) == NULL) {
		m->cache_bad = 1;
		goto out;
	}
	r = util_pread_full(fd, m->ctext, len, 0);
	if (r != (ssize_t)len) {
		m->cache_bad = 1;
		goto out;
	}
	m->ctext[len] = '\0';
	if (mdir_cache_parse(m, len) == -1)
		m->cache_bad = 1;
out:
	(void)close(fd);
	return rc;
}

/* The base name of cache entry i (set: the struct mdir). */
static void
mdir_centry_base(const void *set, size_t i, const char **namep,
    size_t *lenp)
{
	const struct mdir *m = set;

	*namep = m->cache[i].name;
	*lenp = m->cache[i].namelen;
}

/* The cache entry for base name (name, len), or NULL. */
struct mdir_centry *
mdir_cache_find(struct mdir *m, const char *name, size_t len)
{
	const struct mdir_centry *ce;
	size_t lo;

	if (m->ncache == 0)
		return NULL;
	/* Format 1 is sorted already. */
	if (m->csorted == NULL && (m->csorted = mdir_name_index(m, m->ncache,
	    mdir_centry_base, m->cache_v1)) == NULL)
		return NULL;
	lo = mdir_name_find(m->csorted, m->ncache, m, mdir_centry_base, name,
	    len);
	/* Of a message in both new/ and cur/, the first with a size. */
	for (; lo < m->ncache; lo++) {
		ce = &m->cache[m->csorted[lo]];
		if (mdir_name_cmp(ce->name, ce->namelen, name, len) != 0)
			return NULL;
		if (ce->phys != MDIR_NONE)
			return &m->cache[m->csorted[lo]];
	}
	return NULL;
}

struct mdir_wbuf {
	int		 fd;
	int		 failed;
	size_t		 len;
	struct md_hash	 h;
	char		 buf[64 * 1024];
};

static void
mdir_wput(struct mdir_wbuf *w, const char *p, size_t n)
{
	if (w->failed)
		return;
	md_hash_update(&w->h, p, n);
	if (w->len + n > sizeof(w->buf)) {
		if (util_write_all(w->fd, w->buf, w->len, -1) == -1)
			w->failed = 1;
		w->len = 0;
	}
	if (n > sizeof(w->buf)) {
		if (util_write_all(w->fd, p, n, -1) == -1)
			w->failed = 1;
		return;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void
mdir_stamp_put(char *out, size_t len, const struct mdir_stamp *st, int ok)
{
	if (!ok || !st->valid)
		(void)util_strlcpy(out, "-", len);
	else
		(void)util_snprintf(out, len, "%llu.%llu.%llu.%llu.%llu.%llu",
		    st->dev, st->ino, st->csec, st->cnsec, st->msec,
		    st->mnsec);
}

/*
 * Write the cache for the snapshot: every message, in snapshot order, and
 * the directories' stamps when the listing is whole.  Best effort: the
 * cache only saves work, so a failure (disk full, read-only) leaves the
 * old one and costs nothing but time.
 */
void
mdir_cache_write(struct mdir *m)
{
	struct mdir_wbuf *w;
	unsigned char dig[MD_HASH_LEN];
	char hex[2 * MD_HASH_LEN + 1], line[MD_CACHE_LINE_MAX + 64];
	char sn[128], sc[128], phys[32];
	size_t i, cnt = 0;
	const struct mdir_ent *e;
	int ok = 0, whole = !m->truncated;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return;
	w->fd = -1;
	if (md_hash_init(&w->h) == -1)
		goto out;
	/* What can go in; a listing that leaves a name out is not whole. */
	for (i = 0; i < m->n; i++) {
		m->ents[i].nocache = m->ents[i].gone ||
		    !mdir_cacheable(m->ents[i].name, strlen(m->ents[i].name));
		if (!m->ents[i].gone && m->ents[i].nocache)
			whole = 0;
	}
	/* A new file, never one left (or planted) there. */
	if (unlinkat(m->rootfd, MDIR_CACHE_TMP, 0) == -1 && errno != ENOENT)
		goto out;
	w->fd = md_path_openat(m->rootfd, MDIR_CACHE_TMP, O_WRONLY | O_CREAT |
	    O_EXCL, 0600);
	if (w->fd == -1)
		goto out;
	mdir_wput(w, MDIR_CACHE_MAGIC, strlen(MDIR_CACHE_MAGIC));
	mdir_stamp_put(sn, sizeof(sn), &m->stamp[MDIR_NEW], whole);
	mdir_stamp_put(sc, sizeof(sc), &m->stamp[MDIR_CUR], whole);
	if (util_snprintf(line, sizeof(line), MDIR_CACHE_DIRS "%s %s\n", sn,
	    sc) == -1)
		goto out;
	mdir_wput(w, line, strlen(line));
	for (i = 0; i < m->n; i++) {
		e = &m->ents[i];
		if (e->nocache)
			continue;
		if (e->phys == MDIR_NONE)
			(void)util_strlcpy(phys, "-", sizeof(phys));
		else
			(void)util_snprintf(phys, sizeof(phys), "%llu",
			    e->phys);
		if (util_snprintf(line, sizeof(line), "%c %s %llu %s\n",
		    e->dir == MDIR_NEW ? 'n' : 'c', phys, e->size, e->name) ==
		    -1 || strlen(line) - 1 > MD_CACHE_LINE_MAX)
			goto out;
		mdir_wput(w, line, strlen(line));
		cnt++;
	}
	if (md_hash_final(&w->h, dig) == -1)
		goto out;
	util_hex(dig, MD_HASH_LEN, hex);
	if (util_snprintf(line, sizeof(line), MDIR_CACHE_END "%zu %s\n", cnt,
	    hex) == -1)
		goto out;
	mdir_wput(w, line, strlen(line));
	if (w->failed || util_write_all(w->fd, w->buf, w->len, -1) == -1 ||
	    fsync(w->fd) == -1)
		goto out;
	if (close(w->fd) == -1) {
		w->fd = -1;
		goto out;
	}
	w->fd = -1;
	if (renameat(m->rootfd, MDIR_CACHE_TMP, m->rootfd, MDIR_CACHE) == -1)
		goto out;
	ok = 1;
out:
	if (w->fd != -1)
		(void)close(w->fd);
	if (!ok)
		(void)unlinkat(m->rootfd, MDIR_CACHE_TMP, 0);
	md_hash_free(&w->h);
	free(w);
}
