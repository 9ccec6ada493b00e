/*
 * kpopd/maildir.c: the Maildir backend of maildrop.h.
 *
 * The messages are the regular files in new/ and cur/ (dot files, tmp/
 * and anything else are left out), in delivery order: the leading
 * seconds of the name, then the base name (the name before its ":"
 * info), so the order is the same every session.  The UIDL is the base
 * name, which a flag change or a move from new/ to cur/ leaves alone.
 *
 * Sizes are POP3 octets (CRLF form).  A name's ",W=" field (Dovecot's
 * virtual size, which is exactly that) is used as is.  Otherwise the size
 * comes from <maildir>/kpopd.cache, checked against the directory: an
 * entry is trusted only while the file's physical size (",S=" in the
 * name, else stat) matches it, and a cache that fails its checksum is
 * thrown away.  Only what the cache cannot answer is read and measured,
 * and the cache is then rewritten atomically (temporary file, fsync,
 * rename).
 *
 * The cache (format 2) is also the listing: every message of the
 * snapshot, in snapshot order, with its full name, and the identity of
 * new/ and cur/ as they were read (device, inode, ctime, mtime).  When
 * both directories are still exactly that, the next open takes the
 * listing as it is: no readdir, no stat, no sort.  Any create, rename or
 * unlink in a directory moves its ctime, which no user can set back.  A
 * directory whose ctime is not yet in the past of the kernel's clock when
 * it is read is not recorded (a change in the same clock tick would not
 * show; see mdir_scan), so the next open reads it again.  Format 1 (sizes
 * by base name only) is still read, for its sizes.
 *
 * kpopd never renames a message from new/ to cur/ (or changes its
 * flags): POP3 has no flags to keep, a rename per message would cost a
 * directory write per message and race with other readers, and the UIDL
 * does not depend on it.  Deletion is unlink, atomic per message, so a
 * crash at any point leaves every message either intact or deleted.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/pop3.h"
#include "common/util.h"
#include "kpopd/md-int.h"

#define MDIR_NEW	0
#define MDIR_CUR	1

static const char *const mdir_sub[2] = { "new", "cur" };

#define MDIR_LOCK	"kpopd.lock"
#define MDIR_CACHE	"kpopd.cache"
#define MDIR_CACHE_TMP	"kpopd.cache.tmp"
#define MDIR_CACHE_MAGIC1 "kpopd-cache 1\n"
#define MDIR_CACHE_MAGIC "kpopd-cache 2\n"
#define MDIR_CACHE_DIRS	"dirs "
/* On a filesystem with whole-second times: seconds a directory must have
   been unchanged to be recorded (two, for FAT's two-second times). */
#define MDIR_SETTLE	2
#define MDIR_CACHE_END	"/end "
#define MDIR_NONE	(~0ULL)

struct mdir_ent {
	char			*name;		/* in its directory */
	size_t			 baselen;	/* bytes before ':' */
	unsigned long long	 secs;		/* leading seconds, or 0 */
	unsigned long long	 s;		/* ,S= or MDIR_NONE */
	unsigned long long	 w;		/* ,W= or MDIR_NONE */
	unsigned long long	 phys;		/* from stat, or MDIR_NONE */
	unsigned long long	 size;		/* POP3 octets */
	unsigned char		 dir;		/* MDIR_NEW or MDIR_CUR */
	unsigned char		 gone;
	unsigned char		 borrowed;	/* name is in m->ctext */
};

struct mdir_centry {
	const char		*name;		/* into the cache text */
	size_t			 namelen;	/* the base name's */
	size_t			 fulllen;	/* with the info part */
	unsigned long long	 phys;		/* or MDIR_NONE */
	unsigned long long	 size;
	unsigned char		 dir;		/* format 2 */
	int			 used;
};

/* What identifies a directory's contents; valid 0 for "not recorded". */
struct mdir_stamp {
	int			 valid;
	unsigned long long	 dev, ino, csec, cnsec, msec, mnsec;
};

struct mdir {
	char			*path;
	void			(*note)(const char *);
	size_t			 notes;		/* files left out */
	int			 rootfd;
	int			 dfd[2];	/* new/, cur/ */
	struct mdir_ent		*ents;		/* snapshot order */
	size_t			 n;
	size_t			*byname;	/* ents sorted by base */
	/* The cache as read. */
	char			*ctext;
	struct mdir_centry	*cache;		/* in file order */
	size_t			 ncache;
	size_t			*csorted;	/* cache by base, for lookups */
	int			 cache_bad;	/* present but unusable */
	int			 cache_v1;
	struct mdir_stamp	 cstamp[2];	/* as the cache recorded them */
	struct mdir_stamp	 stamp[2];	/* new/, cur/ as read now */
	int			 listed;	/* the snapshot is the cache's */
	int			 truncated;	/* past MD_MSGS_MAX */
};

/* ---- names ---- */

static int
mdir_basecmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c;

	c = memcmp(a, b, alen < blen ? alen : blen);
	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Fill in what the name tells: base length, seconds, ,S= and ,W=. */
static void
mdir_parse_name(struct mdir_ent *e)
{
	const char *name = e->name, *end, *p, *q;
	unsigned long long v;

	e->baselen = strcspn(name, ":");
	end = name + e->baselen;
	e->secs = 0;
	e->s = e->w = MDIR_NONE;
	for (p = name; p < end && *p >= '0' && *p <= '9'; p++)
		;
	if (p > name && (p == end || *p == '.') &&
	    util_parse_uint(name, (size_t)(p - name), MD_SIZE_MAX, &v) == 0)
		e->secs = v;
	for (p = name; (p = memchr(p, ',', (size_t)(end - p))) != NULL;
	    p++) {
		if (end - p < 4 || (p[1] != 'S' && p[1] != 'W') ||
		    p[2] != '=')
			continue;
		for (q = p + 3; q < end && *q >= '0' && *q <= '9'; q++)
			;
		if ((q != end && *q != ',') ||
		    util_parse_uint(p + 3, (size_t)(q - p - 3), MD_SIZE_MAX,
		    &v) == -1)
			continue;
		if (p[1] == 'S' && e->s == MDIR_NONE)
			e->s = v;
		else if (p[1] == 'W' && e->w == MDIR_NONE)
			e->w = v;
	}
}

static int
mdir_order(const void *va, const void *vb)
{
	const struct mdir_ent *a = va, *b = vb;
	int c;

	if (a->secs != b->secs)
		return a->secs < b->secs ? -1 : 1;
	c = mdir_basecmp(a->name, a->baselen, b->name, b->baselen);
	if (c != 0)
		return c;
	if (a->dir != b->dir)
		return a->dir < b->dir ? -1 : 1;
	return strcmp(a->name, b->name);
}

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

/* ---- scanning ---- */

/*
 * A directory stream over new/ or cur/ (which), from its start, on a
 * duplicate of the descriptor we keep.  Returns it, or NULL (errno).
 */
static DIR *
mdir_dirstream(struct mdir *m, int which)
{
	DIR *d;
	int fd, e_no;

	if ((fd = dup(m->dfd[which])) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL) {
		e_no = errno;
		(void)close(fd);
		errno = e_no;
		return NULL;
	}
	rewinddir(d);
	return d;
}

/* The stamp of directory descriptor fd.  0, or -1 (errno). */
static int
mdir_stamp_of(int fd, struct mdir_stamp *st)
{
	struct stat sb;

	memset(st, 0, sizeof(*st));
	if (fstat(fd, &sb) == -1)
		return -1;
	st->dev = (unsigned long long)sb.st_dev;
	st->ino = (unsigned long long)sb.st_ino;
	st->csec = (unsigned long long)sb.st_ctim.tv_sec;
	st->cnsec = (unsigned long long)sb.st_ctim.tv_nsec;
	st->msec = (unsigned long long)sb.st_mtim.tv_sec;
	st->mnsec = (unsigned long long)sb.st_mtim.tv_nsec;
	st->valid = 1;
	return 0;
}

static int
mdir_stamp_same(const struct mdir_stamp *a, const struct mdir_stamp *b)
{
	return a->valid && b->valid && a->dev == b->dev && a->ino == b->ino &&
	    a->csec == b->csec && a->cnsec == b->cnsec && a->msec == b->msec &&
	    a->mnsec == b->mnsec;
}

/* Whether the cache must record stamp now instead of was. */
static int
mdir_stamp_changed(const struct mdir_stamp *now, const struct mdir_stamp *was)
{
	return now->valid != was->valid ||
	    (now->valid && !mdir_stamp_same(now, was));
}

/* Whether a directory stamped st before time now can be recorded. */
static int
mdir_settled(const struct mdir_stamp *st, const struct timespec *now)
{
	unsigned long long ns = (unsigned long long)now->tv_nsec;
	unsigned long long s = (unsigned long long)now->tv_sec;

	if (st->cnsec == 0 && st->mnsec == 0)
		return st->csec + MDIR_SETTLE < s;
	return st->csec < s || (st->csec == s && st->cnsec < ns);
}

/*
 * The listing in the cache, taken as the snapshot: entries in its order,
 * with its sizes.  Returns MD_OK, or MD_TEMP (no memory) with err set.
 */
static int
mdir_from_cache(struct mdir *m, char *err, size_t errlen)
{
	const struct mdir_centry *ce;
	struct mdir_ent *e;
	size_t i;

	if ((m->ents = calloc(m->ncache + 1, sizeof(*m->ents))) == NULL) {
		md_err(err, errlen, "out of memory");
		return MD_TEMP;
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
	return MD_OK;
}

/* Say (through md_opts.note) that a file was left out, and why. */
static void
mdir_note(struct mdir *m, int which, const char *name, const char *why)
{
	char msg[PATH_MAX + 128];

	if (m->note == NULL || m->notes++ >= MD_NOTES_MAX)
		return;
	(void)util_snprintf(msg, sizeof(msg), "%s/%s/%s: %s; left out",
	    m->path, mdir_sub[which], name, why);
	m->note(msg);
}

/*
 * Add the regular files of one of new/ and cur/ to ents.  Returns MD_OK,
 * or a status with err set.
 */
static int
mdir_scan(struct mdir *m, int which, size_t *cap, char *err, size_t errlen)
{
	struct dirent *de;
	struct stat st;
	struct timespec now;
	struct mdir_ent *e, *ne;
	DIR *d;
	const char *why;
	int e_no, rc = MD_OK;
	unsigned long long phys;

	/*
	 * The directory as it is before we read it, recorded in the cache
	 * only if no later change can carry the same ctime.  File times
	 * come from the kernel's coarse clock, read here first: a change
	 * after the fstat is stamped at least `now`, so a ctime before
	 * `now` cannot recur.  A ctime of whole seconds (a filesystem
	 * without nanoseconds) must be MDIR_SETTLE seconds old instead.
	 */
	if (clock_gettime(CLOCK_REALTIME_COARSE, &now) == -1 ||
	    mdir_stamp_of(m->dfd[which], &m->stamp[which]) == -1 ||
	    !mdir_settled(&m->stamp[which], &now))
		m->stamp[which].valid = 0;
	if ((d = mdir_dirstream(m, which)) == NULL) {
		e_no = errno;
		md_err(err, errlen, "%s/%s: %s", m->path, mdir_sub[which],
		    strerror(e_no));
		return MD_TEMP;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				e_no = errno;
				md_err(err, errlen, "%s/%s: %s", m->path,
				    mdir_sub[which], strerror(e_no));
				rc = MD_TEMP;
			}
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		/*
		 * Only regular files of the mail user: not a symlink, FIFO
		 * or device (never opened), not another account's file
		 * linked in here.
		 */
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN) {
			mdir_note(m, which, de->d_name,
			    de->d_type == DT_LNK ? "a symbolic link" :
			    de->d_type == DT_DIR ? "a directory" :
			    "not a regular file");
			continue;
		}
		if (fstatat(m->dfd[which], de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1)
			continue;	/* gone meanwhile */
		if ((why = md_path_unfit(&st)) != NULL) {
			mdir_note(m, which, de->d_name, why);
			/*
			 * Not recorded as a whole listing: should the file
			 * become the user's (a chown moves no directory's
			 * ctime), the next login must see it.
			 */
			if (S_ISREG(st.st_mode))
				m->stamp[which].valid = 0;
			continue;
		}
		phys = (unsigned long long)st.st_size;
		if (m->n == *cap) {
			*cap = *cap == 0 ? 256 : *cap * 2;
			if ((ne = reallocarray(m->ents, *cap,
			    sizeof(*ne))) == NULL) {
				md_err(err, errlen, "out of memory");
				rc = MD_TEMP;
				break;
			}
			m->ents = ne;
		}
		e = &m->ents[m->n];
		memset(e, 0, sizeof(*e));
		if ((e->name = strdup(de->d_name)) == NULL) {
			md_err(err, errlen, "out of memory");
			rc = MD_TEMP;
			break;
		}
		e->dir = (unsigned char)which;
		e->phys = phys;
		mdir_parse_name(e);
		m->n++;
	}
	(void)closedir(d);
	return rc;
}

static const struct mdir *mdir_sort_m;	/* for mdir_byname_cmp */

static int
mdir_byname_cmp(const void *va, const void *vb)
{
	const struct mdir_ent *a = &mdir_sort_m->ents[*(const size_t *)va];
	const struct mdir_ent *b = &mdir_sort_m->ents[*(const size_t *)vb];

	return mdir_basecmp(a->name, a->baselen, b->name, b->baselen);
}

/* Sort the n indices into m->ents at idx by base name. */
static void
mdir_sort_byname(const struct mdir *m, size_t *idx, size_t n)
{
	if (n < 2)
		return;
	mdir_sort_m = m;
	qsort(idx, n, sizeof(*idx), mdir_byname_cmp);
	mdir_sort_m = NULL;
}

/*
 * Another program may have moved messages from new/ to cur/ or changed
 * their flags since the snapshot: read both directories again and point
 * every snapshot entry whose base name is there at its current name.
 * Returns 0, or -1 (errno).
 */
static int
mdir_refresh(struct mdir *m)
{
	struct dirent *de;
	DIR *d;
	size_t i, lo, hi, mid, baselen;
	int which;
	char *nn;

	if (m->byname == NULL) {
		if ((m->byname = calloc(m->n + 1, sizeof(size_t))) == NULL)
			return -1;
		for (i = 0; i < m->n; i++)
			m->byname[i] = i;
		mdir_sort_byname(m, m->byname, m->n);
	}
	for (which = MDIR_NEW; which <= MDIR_CUR; which++) {
		if ((d = mdir_dirstream(m, which)) == NULL)
			return -1;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			baselen = strcspn(de->d_name, ":");
			lo = 0;
			hi = m->n;
			while (lo < hi) {
				mid = lo + (hi - lo) / 2;
				if (mdir_basecmp(m->ents[m->byname[mid]].name,
				    m->ents[m->byname[mid]].baselen,
				    de->d_name, baselen) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			for (; lo < m->n; lo++) {
				struct mdir_ent *e = &m->ents[m->byname[lo]];

				if (mdir_basecmp(e->name, e->baselen,
				    de->d_name, baselen) != 0)
					break;
				if (e->dir == which &&
				    strcmp(e->name, de->d_name) == 0)
					continue;
				if ((nn = strdup(de->d_name)) == NULL) {
					(void)closedir(d);
					errno = ENOMEM;
					return -1;
				}
				if (!e->borrowed)
					free(e->name);
				e->name = nn;
				e->borrowed = 0;
				e->dir = (unsigned char)which;
			}
		}
		(void)closedir(d);
	}
	return 0;
}

/* ---- the size cache ---- */

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
		if (v1 && m->ncache > 0 && mdir_basecmp(m->cache[m->ncache -
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
 * fd >= 0: the open cache; else it is looked at by name.  Returns MD_OK
 * or MD_PERM with err set.
 */
static int
mdir_cache_check(struct mdir *m, int fd, const struct md_opts *o,
    char *err, size_t errlen)
{
	struct stat st;
	char shown[PATH_MAX];

	(void)util_snprintf(shown, sizeof(shown), "%s/%s", m->path,
	    MDIR_CACHE);
	if (fd >= 0 ? fstat(fd, &st) == -1 : fstatat(m->rootfd, MDIR_CACHE,
	    &st, AT_SYMLINK_NOFOLLOW) == -1)
		return MD_OK;	/* none: nothing to trust */
	if (S_ISLNK(st.st_mode)) {
		md_err(err, errlen, "%s: a symbolic link; refused", shown);
		return MD_PERM;
	}
	return md_path_check(&st, MD_K_FILE, o, shown, err, errlen);
}

/*
 * Read the cache.  A missing one is empty; a bad one is ignored; one
 * kpopd did not write (mdir_cache_check) refuses the maildrop.  Returns
 * MD_OK, or a status with err set.
 */
static int
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
			return MD_OK;
		rc = errno;
		(void)util_snprintf(err, errlen, "%s/%s", m->path, MDIR_CACHE);
		return md_path_failed(m->rootfd, MDIR_CACHE, err, rc, err,
		    errlen);
	}
	if ((rc = mdir_cache_check(m, fd, o, err, errlen)) != MD_OK) {
		(void)close(fd);
		return rc;
	}
	rc = MD_OK;
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

static const struct mdir *mdir_csort_m;	/* for mdir_csorted_cmp */

static int
mdir_csorted_cmp(const void *va, const void *vb)
{
	const struct mdir_centry *a = &mdir_csort_m->cache[*(const size_t *)va];
	const struct mdir_centry *b = &mdir_csort_m->cache[*(const size_t *)vb];

	return mdir_basecmp(a->name, a->namelen, b->name, b->namelen);
}

/* The cache entry for base name (name, len), or NULL. */
static struct mdir_centry *
mdir_cache_find(struct mdir *m, const char *name, size_t len)
{
	size_t lo, hi, mid, i;
	const struct mdir_centry *ce;

	if (m->ncache == 0)
		return NULL;
	if (m->csorted == NULL) {
		if ((m->csorted = calloc(m->ncache, sizeof(size_t))) == NULL)
			return NULL;
		for (i = 0; i < m->ncache; i++)
			m->csorted[i] = i;
		/* Format 1 is sorted already. */
		if (!m->cache_v1) {
			mdir_csort_m = m;
			qsort(m->csorted, m->ncache, sizeof(size_t),
			    mdir_csorted_cmp);
			mdir_csort_m = NULL;
		}
	}
	lo = 0;
	hi = m->ncache;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		ce = &m->cache[m->csorted[mid]];
		if (mdir_basecmp(ce->name, ce->namelen, name, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Of a message in both new/ and cur/, the first with a size. */
	for (; lo < m->ncache; lo++) {
		ce = &m->cache[m->csorted[lo]];
		if (mdir_basecmp(ce->name, ce->namelen, name, len) != 0)
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
static void
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
	for (i = 0; i < m->n; i++)
		if (!m->ents[i].gone && !mdir_cacheable(m->ents[i].name,
		    strlen(m->ents[i].name)))
			whole = 0;
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
		if (e->gone || !mdir_cacheable(e->name, strlen(e->name)))
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

/* ---- message files ---- */

/*
 * Open the file of entry e for reading, at its name in the snapshot or,
 * if another program moved or reflagged it since, at its current one.
 * Returns MD_OK with *fdp and *st, or with err set MD_GONE (no such file
 * any more, or not a regular file) or the status of the error.
 */
static int
mdir_open_msg(struct mdir *m, struct mdir_ent *e, int *fdp, struct stat *st,
    char *err, size_t errlen)
{
	const char *why = NULL;
	int fd, e_no, tries;

	for (tries = 0;; tries++) {
		fd = md_path_openat(m->dfd[e->dir], e->name, O_RDONLY |
		    O_NONBLOCK, 0);
		if (fd != -1)
			break;
		e_no = errno;
		if (e_no == ENOENT && tries == 0) {
			/* Moved or reflagged by another program? */
			if (mdir_refresh(m) == -1) {
				e_no = errno;
				md_err(err, errlen, "%s: %s", m->path,
				    strerror(e_no));
				return MD_TEMP;
			}
			continue;
		}
		if (e_no == ENOENT) {
			md_err(err, errlen, "message deleted");
			return MD_GONE;
		}
		if (e_no == ELOOP) {
			md_err(err, errlen, "%s/%s/%s: not a message file "
			    "(a symbolic link)", m->path, mdir_sub[e->dir],
			    e->name);
			return MD_GONE;
		}
		md_err(err, errlen, "%s/%s/%s: %s", m->path,
		    mdir_sub[e->dir], e->name, strerror(e_no));
		return md_err_status(e_no);
	}
	if (fstat(fd, st) == -1 || (why = md_path_unfit(st)) != NULL) {
		(void)close(fd);
		md_err(err, errlen, "%s/%s/%s: not a message file (%s)",
		    m->path, mdir_sub[e->dir], e->name, why != NULL ? why :
		    strerror(errno));
		return MD_GONE;
	}
	*fdp = fd;
	return MD_OK;
}

/* ---- sizes ---- */

/*
 * Read message e and measure it.  Returns MD_OK, MD_GONE (no such file
 * any more, even after looking for its base name again), or a status,
 * with err set.
 */
static int
mdir_measure(struct mdir *m, struct mdir_ent *e, unsigned char *buf,
    char *err, size_t errlen)
{
	struct pop3_enc enc;
	struct stat st;
	unsigned long long phys = 0;
	ssize_t r;
	int fd, e_no, rc;

	if ((rc = mdir_open_msg(m, e, &fd, &st, err, errlen)) != MD_OK)
		return rc;
	pop3_size_init(&enc);
	for (;;) {
		r = read(fd, buf, MD_BUF_SIZE);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			e_no = errno;
			md_err(err, errlen, "%s/%s/%s: %s", m->path,
			    mdir_sub[e->dir], e->name, strerror(e_no));
			rc = MD_TEMP;
			goto out;
		}
		if (r == 0)
			break;
		pop3_size_feed(&enc, buf, (size_t)r);
		phys += (unsigned long long)r;
	}
	e->phys = phys;
	e->size = pop3_size_end(&enc);
out:
	(void)close(fd);
	return rc;
}

/*
 * Give every entry its size, from ,W=, the cache, or the file.  *dirty is
 * set when the cache no longer matches the snapshot.
 */
static int
mdir_sizes(struct mdir *m, int *dirty, char *err, size_t errlen)
{
	struct mdir_centry *ce;
	struct mdir_ent *e;
	struct stat st;
	unsigned char *buf = NULL;
	size_t i, used = 0;
	int rc = MD_OK;

	*dirty = m->cache_bad;
	for (i = 0; i < m->n; i++) {
		e = &m->ents[i];
		if (e->w != MDIR_NONE) {
			e->size = e->w;
			continue;
		}
		ce = mdir_cache_find(m, e->name, e->baselen);
		if (ce != NULL) {
			if (e->s != MDIR_NONE)
				e->phys = e->s;
			else if (e->phys == MDIR_NONE) {
				if (fstatat(m->dfd[e->dir], e->name, &st,
				    AT_SYMLINK_NOFOLLOW) == 0)
					e->phys = (unsigned long long)
					    st.st_size;
			}
			if (e->phys == ce->phys) {
				e->size = ce->size;
				if (!ce->used)
					used++;
				ce->used = 1;
				continue;
			}
		}
		/* Not in the cache, or it disagrees: measure the file. */
		if (buf == NULL && (buf = malloc(MD_BUF_SIZE)) == NULL) {
			md_err(err, errlen, "out of memory");
			rc = MD_TEMP;
			goto out;
		}
		rc = mdir_measure(m, e, buf, err, errlen);
		if (rc == MD_GONE) {
			/* Gone while we looked: no error, no message. */
			e->gone = 1;
			rc = MD_OK;
			if (errlen > 0)
				err[0] = '\0';
		} else if (rc != MD_OK)
			goto out;
		*dirty = 1;
	}
	/*
	 * Format 1: entries for files that are gone.  (Format 2 lists every
	 * message, ,W= ones too; maildir_open compares the listing.)
	 */
	if (m->cache_v1 && used != m->ncache)
		*dirty = 1;
out:
	free(buf);
	return rc;
}

/*
 * Unlink entry e, unless the name now holds something that is not a
 * message file of ours (md_path_unfit): then it is left, and 0 returned
 * as for a message already gone.  Returns 0, or -1 (errno).
 */
static int
mdir_unlink(struct mdir *m, const struct mdir_ent *e)
{
	struct stat st;
	const char *why;

	if (fstatat(m->dfd[e->dir], e->name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	if ((why = md_path_unfit(&st)) != NULL) {
		mdir_note(m, e->dir, e->name, why);
		return 0;
	}
	return unlinkat(m->dfd[e->dir], e->name, 0);
}

/* ---- the backend ---- */

/*
 * Open the Maildir's subdirectory sub into *fdp (-1 if it is missing) and
 * check it is the mail user's.  Returns MD_OK, or a status with err set.
 */
static int
mdir_opendir(struct mdir *m, const char *sub, const struct md_opts *o,
    int *fdp, char *err, size_t errlen)
{
	struct stat st;
	char shown[PATH_MAX];
	int e_no, rc;

	(void)util_snprintf(shown, sizeof(shown), "%s/%s", m->path, sub);
	*fdp = md_path_openat(m->rootfd, sub, O_RDONLY | O_DIRECTORY, 0);
	if (*fdp == -1) {
		if (errno == ENOENT)
			return MD_OK;
		return md_path_failed(m->rootfd, sub, shown, errno, err,
		    errlen);
	}
	if (fstat(*fdp, &st) == -1) {
		e_no = errno;
		md_err(err, errlen, "%s: %s", shown, strerror(e_no));
		return MD_TEMP;
	}
	if ((rc = md_path_check(&st, MD_K_DIR, o, shown, err, errlen)) != MD_OK)
		return rc;
	return MD_OK;
}

/*
 * Open the Maildir itself: every component below the trusted prefix
 * without following a symlink (md_path_resolve), created if missing and
 * allowed, checked to be the mail user's.  Returns MD_OK, or a status
 * with err set; nothing is created unless the path up to it passed.
 */
static int
mdir_openroot(struct mdir *m, const struct md_opts *o, char *err,
    size_t errlen)
{
	struct stat st;
	const char *name;
	int pfd, e_no, rc;

	if ((rc = md_path_resolve(m->path, o, &pfd, &name, err, errlen)) !=
	    MD_OK)
		return rc;
	m->rootfd = md_path_openat(pfd, name, O_RDONLY | O_DIRECTORY, 0);
	if (m->rootfd == -1 && errno == ENOENT && o->create) {
		if (mkdirat(pfd, name, 0700) == -1 && errno != EEXIST) {
			e_no = errno;
			(void)close(pfd);
			md_err(err, errlen, "%s: %s", m->path,
			    strerror(e_no));
			return md_err_status(e_no);
		}
		m->rootfd = md_path_openat(pfd, name, O_RDONLY | O_DIRECTORY,
		    0);
	}
	if (m->rootfd == -1) {
		rc = md_path_failed(pfd, name, m->path, errno, err, errlen);
		(void)close(pfd);
		return rc;
	}
	(void)close(pfd);
	if (fstat(m->rootfd, &st) == -1) {
		e_no = errno;
		md_err(err, errlen, "%s: %s", m->path, strerror(e_no));
		return MD_TEMP;
	}
	return md_path_check(&st, MD_K_DIR, o, m->path, err, errlen);
}

static int
maildir_open(struct maildrop *md, const char *path,
    const struct md_opts *opts, char *err, size_t errlen)
{
	static const char *const subs[3] = { "tmp", "new", "cur" };
	struct mdir *m;
	struct mdir_stamp now[2];
	char lockpath[PATH_MAX];
	size_t i, k, cap = 0;
	int rc, e_no, fds[3] = { -1, -1, -1 }, dirty = 0;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		md_err(err, errlen, "out of memory");
		return MD_TEMP;
	}
	md->be = m;
	m->rootfd = m->dfd[0] = m->dfd[1] = -1;
	m->note = opts->note;
	if ((m->path = strdup(path)) == NULL) {
		md_err(err, errlen, "out of memory");
		return MD_TEMP;
	}
	if ((rc = mdir_openroot(m, opts, err, errlen)) != MD_OK)
		return rc;
	/* Look at all of it before creating anything. */
	for (i = 0; i < 3; i++)
		if ((rc = mdir_opendir(m, subs[i], opts, &fds[i], err,
		    errlen)) != MD_OK)
			goto subdirs;
	if ((rc = mdir_cache_check(m, -1, opts, err, errlen)) != MD_OK)
		goto subdirs;
	for (i = 0; i < 3; i++) {
		if (fds[i] != -1)
			continue;
		if (!opts->create) {
			md_err(err, errlen, "%s: not a Maildir (no %s/)",
			    path, subs[i]);
			rc = MD_PERM;
			goto subdirs;
		}
		if (mkdirat(m->rootfd, subs[i], 0700) == -1 &&
		    errno != EEXIST) {
			e_no = errno;
			md_err(err, errlen, "%s/%s: %s", path, subs[i],
			    strerror(e_no));
			rc = md_err_status(e_no);
			goto subdirs;
		}
		if ((rc = mdir_opendir(m, subs[i], opts, &fds[i], err,
		    errlen)) != MD_OK)
			goto subdirs;
		if (fds[i] == -1) {
			md_err(err, errlen, "%s/%s: vanished", path,
			    subs[i]);
			rc = MD_TEMP;
			goto subdirs;
		}
	}
subdirs:
	if (fds[0] != -1)
		(void)close(fds[0]);
	m->dfd[MDIR_NEW] = fds[1];
	m->dfd[MDIR_CUR] = fds[2];
	if (rc != MD_OK)
		return rc;

	(void)util_snprintf(lockpath, sizeof(lockpath), "%s/%s", path,
	    MDIR_LOCK);
	if ((rc = md_lock_session(md, m->rootfd, MDIR_LOCK, lockpath, opts,
	    err, errlen)) != MD_OK)
		return rc;

	if ((rc = mdir_cache_load(m, opts, err, errlen)) != MD_OK)
		return rc;
	if (!m->cache_bad && !m->cache_v1 &&
	    mdir_stamp_of(m->dfd[MDIR_NEW], &now[MDIR_NEW]) == 0 &&
	    mdir_stamp_of(m->dfd[MDIR_CUR], &now[MDIR_CUR]) == 0 &&
	    mdir_stamp_same(&now[MDIR_NEW], &m->cstamp[MDIR_NEW]) &&
	    mdir_stamp_same(&now[MDIR_CUR], &m->cstamp[MDIR_CUR])) {
		/* Neither directory changed since the listing was made. */
		if ((rc = mdir_from_cache(m, err, errlen)) != MD_OK)
			return rc;
	} else {
		if ((rc = mdir_scan(m, MDIR_NEW, &cap, err, errlen)) !=
		    MD_OK ||
		    (rc = mdir_scan(m, MDIR_CUR, &cap, err, errlen)) != MD_OK)
			return rc;
		if (m->n > 1)
			qsort(m->ents, m->n, sizeof(*m->ents), mdir_order);
		/* Past the limit, serve the oldest. */
		while (m->n > MD_MSGS_MAX) {
			free(m->ents[--m->n].name);	/* not borrowed */
			m->truncated = 1;
		}
		if ((rc = mdir_sizes(m, &dirty, err, errlen)) != MD_OK)
			return rc;
		/* Sizes, or the listing, or the format changed. */
		if (dirty || m->cache_v1 || m->n != m->ncache ||
		    mdir_stamp_changed(&m->stamp[MDIR_NEW],
		    &m->cstamp[MDIR_NEW]) ||
		    mdir_stamp_changed(&m->stamp[MDIR_CUR],
		    &m->cstamp[MDIR_CUR]))
			mdir_cache_write(m);
	}
	free(m->cache);
	m->cache = NULL;
	m->ncache = 0;
	free(m->csorted);
	m->csorted = NULL;
	if (!m->listed) {
		/* (A listing's names live in the text.) */
		free(m->ctext);
		m->ctext = NULL;
	}

	/* Drop the files that vanished while we looked. */
	for (i = k = 0; i < m->n; i++) {
		if (m->ents[i].gone) {
			if (!m->ents[i].borrowed)
				free(m->ents[i].name);
			continue;
		}
		m->ents[k++] = m->ents[i];
	}
	m->n = k;
	free(m->byname);
	m->byname = NULL;
	if (m->note != NULL && m->notes > MD_NOTES_MAX) {
		char msg[PATH_MAX + 64];

		(void)util_snprintf(msg, sizeof(msg), "%s: %zu more files "
		    "left out", path, m->notes - MD_NOTES_MAX);
		m->note(msg);
	}

	if ((md->msgs = calloc(m->n + 1, sizeof(*md->msgs))) == NULL) {
		md_err(err, errlen, "out of memory");
		return MD_TEMP;
	}
	for (i = 0; i < m->n; i++) {
		md->msgs[i].size = m->ents[i].size;
		md_uidl_from(m->ents[i].name, m->ents[i].baselen,
		    md->msgs[i].uidl);
	}
	md->count = m->n;
	return MD_OK;
}

static int
maildir_msg_fd(struct maildrop *md, size_t i, int *fdp, off_t *offp,
    off_t *lenp, char *err, size_t errlen)
{
	struct mdir *m = md->be;
	struct stat st;
	int fd, rc;

	rc = mdir_open_msg(m, &m->ents[i], &fd, &st, err, errlen);
	if (rc == MD_GONE)
		return MD_GONE;
	if (rc != MD_OK)
		return MD_TEMP;	/* md_msg_fd() fails only so */
	*fdp = fd;
	*offp = 0;
	*lenp = st.st_size;
	return MD_OK;
}

static int
maildir_commit(struct maildrop *md, const unsigned char *del, char *err,
    size_t errlen)
{
	struct mdir *m = md->be;
	struct mdir_ent *e;
	size_t i, failed = 0, total = 0;
	int e_no, first_errno = 0, refreshed = 0;

	for (i = 0; i < m->n; i++) {
		if (!del[i])
			continue;
		e = &m->ents[i];
		total++;
		if (mdir_unlink(m, e) == 0)
			continue;
		e_no = errno;
		if (e_no == ENOENT && !refreshed) {
			/* Renamed since?  Look again, once for all. */
			refreshed = 1;
			if (mdir_refresh(m) == 0 && mdir_unlink(m, e) == 0)
				continue;
			e_no = errno;
		}
		if (e_no == ENOENT)
			continue;	/* already gone: what we wanted */
		if (failed++ == 0)
			first_errno = e_no;
	}
	/* Make the unlinks durable before QUIT is answered. */
	if (fsync(m->dfd[MDIR_NEW]) == -1 || fsync(m->dfd[MDIR_CUR]) == -1) {
		e_no = errno;
		if (failed++ == 0)
			first_errno = e_no;
	}
	if (failed > 0) {
		md_err(err, errlen, "%s: %zu of %zu deletions failed: %s",
		    m->path, failed, total, strerror(first_errno));
		return MD_TEMP;
	}
	return MD_OK;
}

static void
maildir_free(struct maildrop *md)
{
	struct mdir *m = md->be;
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		if (!m->ents[i].borrowed)
			free(m->ents[i].name);
	free(m->ents);
	free(m->byname);
	free(m->cache);
	free(m->csorted);
	free(m->ctext);
	if (m->dfd[0] != -1)
		(void)close(m->dfd[0]);
	if (m->dfd[1] != -1)
		(void)close(m->dfd[1]);
	if (m->rootfd != -1)
		(void)close(m->rootfd);
	free(m->path);
	free(m);
	md->be = NULL;
}

const struct md_backend md_maildir = {
	"Maildir",
	maildir_open,
	maildir_msg_fd,
	maildir_commit,
	maildir_free
};
