/* SPDX-License-Identifier: MIT */
/*
 * kpopd/mdir-scan.c: reading a Maildir's new/ and cur/ for the snapshot
 * of the Maildir backend (maildir.c): the regular files of the mail
 * user, in delivery order (the leading seconds of the name, then the
 * base name), with what each name tells (",S=", ",W="), and the stamp of
 * each directory as it was read, for kpopd.cache (mdir-cache.c).  Also
 * the second look for messages another program moved or reflagged since
 * the snapshot.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/util.h"
#include "kpopd/mdir-int.h"

/* ---- names ---- */

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
	c = mdir_name_cmp(a->name, a->baselen, b->name, b->baselen);
	if (c != 0)
		return c;
	if (a->dir != b->dir)
		return a->dir < b->dir ? -1 : 1;
	return strcmp(a->name, b->name);
}

void
mdir_scan_sort(struct mdir *m)
{
	if (m->n > 1)
		qsort(m->ents, m->n, sizeof(*m->ents), mdir_order);
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
int
mdir_scan_stamp(int fd, struct mdir_stamp *st)
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

/*
 * The device number is left out: it is this host's number for the mount,
 * and another server of the same NFS export has its own.  Within the one
 * Maildir, the inode and the times in nanoseconds are the storage's.
 */
int
mdir_scan_same(const struct mdir_stamp *a, const struct mdir_stamp *b)
{
	return a->valid && b->valid && a->ino == b->ino &&
	    a->csec == b->csec && a->cnsec == b->cnsec && a->msec == b->msec &&
	    a->mnsec == b->mnsec;
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

/* Say (through md_opts.note) that a file was left out, and why. */
void
mdir_scan_note(struct mdir *m, int which, const char *name, const char *why)
{
	char msg[PATH_MAX + 128];

	if (m->note == NULL || m->notes++ >= MD_NOTES_MAX)
		return;
	(void)util_snprintf(msg, sizeof(msg), "%s/%s/%s: %s; left out",
	    m->path, MDIR_SUB(which), name, why);
	m->note(msg);
}

/*
 * Add the regular files of one of new/ and cur/ to ents.  Returns KP_OK,
 * or a status with err set.
 */
int
mdir_scan_dir(struct mdir *m, int which, size_t *cap, char *err, size_t errlen)
{
	struct dirent *de;
	struct stat st;
	struct timespec now;
	struct mdir_ent *e, *ne;
	DIR *d;
	const char *why;
	int e_no, rc = KP_OK;
	unsigned long long phys;

	/*
	 * The directory as it is before we read it, recorded in the cache
	 * only if no later change can carry the same ctime.  File times
	 * come from the kernel's coarse clock, read here first: a change
	 * after the fstat is stamped at least `now`, so a ctime before
	 * `now` cannot recur.  A ctime of whole seconds (a filesystem
	 * without nanoseconds) must be MDIR_SETTLE seconds old instead.
	 * On shared storage the file server stamps the times, by its own
	 * clock: the session lock's stamp at open is that clock's `now`,
	 * and the earlier of the two is taken, so that a server whose
	 * clock runs ahead of the file server's records nothing early.
	 */
	if (clock_gettime(CLOCK_REALTIME_COARSE, &now) == -1)
		m->stamp[which].valid = 0;
	else {
		if (m->locked_ok && (m->locked_at.tv_sec < now.tv_sec ||
		    (m->locked_at.tv_sec == now.tv_sec &&
		    m->locked_at.tv_nsec < now.tv_nsec)))
			now = m->locked_at;
		if (mdir_scan_stamp(m->dfd[which], &m->stamp[which]) == -1 ||
		    !mdir_settled(&m->stamp[which], &now))
			m->stamp[which].valid = 0;
	}
	if ((d = mdir_dirstream(m, which)) == NULL) {
		e_no = errno;
		util_snprintf(err, errlen, "%s/%s: %s", m->path,
		    MDIR_SUB(which), strerror(e_no));
		return KP_TEMP;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				e_no = errno;
				util_snprintf(err, errlen, "%s/%s: %s", m->path,
				    MDIR_SUB(which), strerror(e_no));
				rc = KP_TEMP;
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
			mdir_scan_note(m, which, de->d_name,
			    de->d_type == DT_LNK ? "a symbolic link" :
			    de->d_type == DT_DIR ? "a directory" :
			    "not a regular file");
			continue;
		}
		if (fstatat(m->dfd[which], de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1)
			continue;	/* gone meanwhile */
		if ((why = md_path_unfit(&st)) != NULL) {
			mdir_scan_note(m, which, de->d_name, why);
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
				util_snprintf(err, errlen, "out of memory");
				rc = KP_TEMP;
				break;
			}
			m->ents = ne;
		}
		e = &m->ents[m->n];
		memset(e, 0, sizeof(*e));
		if ((e->name = strdup(de->d_name)) == NULL) {
			util_snprintf(err, errlen, "out of memory");
			rc = KP_TEMP;
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

/* The base name of snapshot entry i (set: the struct mdir). */
static void
mdir_ent_base(const void *set, size_t i, const char **namep, size_t *lenp)
{
	const struct mdir *m = set;

	*namep = m->ents[i].name;
	*lenp = m->ents[i].baselen;
}

/*
 * Another program may have moved messages from new/ to cur/ or changed
 * their flags since the snapshot: read both directories again and point
 * every snapshot entry whose base name is there at its current name.
 * Returns 0, or -1 (errno).
 */
int
mdir_scan_refresh(struct mdir *m)
{
	struct dirent *de;
	DIR *d;
	size_t lo, baselen;
	int which;
	char *nn;

	if (m->byname == NULL &&
	    (m->byname = mdir_name_index(m, m->n, mdir_ent_base, 0)) == NULL)
		return -1;
	for (which = MDIR_NEW; which <= MDIR_CUR; which++) {
		if ((d = mdir_dirstream(m, which)) == NULL)
			return -1;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			baselen = strcspn(de->d_name, ":");
			lo = mdir_name_find(m->byname, m->n, m, mdir_ent_base,
			    de->d_name, baselen);
			for (; lo < m->n; lo++) {
				struct mdir_ent *e = &m->ents[m->byname[lo]];

				if (mdir_name_cmp(e->name, e->baselen,
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
