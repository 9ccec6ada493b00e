/* SPDX-License-Identifier: MIT */
/*
 * kpopd/maildir.c: the Maildir backend of maildrop.h (md_maildir).
 *
 * The messages are the regular files in new/ and cur/ (dot files, tmp/
 * and anything else are left out), in delivery order: the leading
 * seconds of the name, then the base name (the name before its ":"
 * info), so the order is the same every session (mdir-scan.c).  The
 * UIDL is the base name, which a flag change or a move from new/ to cur/
 * leaves alone; uidl_format may name another server's UIDLs instead
 * (Dovecot's mdir-uidlist.c, Courier's mdir-courier.c, X-UIDL headers
 * mdir-xuidl.c).
 *
 * Sizes are POP3 octets (CRLF form).  A name's ",W=" field (Dovecot's
 * virtual size, which is exactly that) is used as is.  Otherwise the size
 * comes from <maildir>/kpopd.cache (mdir-cache.c), checked against the
 * directory.  Only what the cache cannot answer is read and measured, and
 * the cache is then rewritten.  When neither new/ nor cur/ changed since
 * the cache was written, its listing is the snapshot, read no further.
 *
 * kpopd never renames a message from new/ to cur/ (or changes its
 * flags): POP3 has no flags to keep, a rename per message would cost a
 * directory write per message and race with other readers, and the UIDL
 * does not depend on it.  Deletion is unlink, atomic per message, so a
 * crash at any point leaves every message either intact or deleted.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/pop3.h"
#include "common/util.h"
#include "kpopd/mdir-int.h"

#define MDIR_LOCK	"kpopd.lock"

/* Whether the cache must record stamp now instead of was. */
static int
mdir_stamp_changed(const struct mdir_stamp *now, const struct mdir_stamp *was)
{
	return now->valid != was->valid ||
	    (now->valid && !mdir_scan_same(now, was));
}

/* ---- message files ---- */

/*
 * Open the file of entry e for reading, at its name in the snapshot or,
 * if another program moved or reflagged it since, at its current one.
 * Returns KP_OK with *fdp and *st, or with err set KP_GONE (no such file
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
			if (mdir_scan_refresh(m) == -1) {
				e_no = errno;
				util_snprintf(err, errlen, "%s: %s", m->path,
				    strerror(e_no));
				return KP_TEMP;
			}
			continue;
		}
		if (e_no == ENOENT) {
			util_snprintf(err, errlen, "message deleted");
			return KP_GONE;
		}
		if (e_no == ELOOP) {
			util_snprintf(err, errlen, "%s/%s/%s: not a message "
			    "file (a symbolic link)", m->path, MDIR_SUB(e->dir),
			    e->name);
			return KP_GONE;
		}
		util_snprintf(err, errlen, "%s/%s/%s: %s", m->path,
		    MDIR_SUB(e->dir), e->name, strerror(e_no));
		return kp_status_errno(e_no);
	}
	if (fstat(fd, st) == -1 || (why = md_path_unfit(st)) != NULL) {
		(void)close(fd);
		util_snprintf(err, errlen, "%s/%s/%s: not a message file (%s)",
		    m->path, MDIR_SUB(e->dir), e->name, why != NULL ? why :
		    strerror(errno));
		return KP_GONE;
	}
	*fdp = fd;
	return KP_OK;
}

/* ---- sizes ---- */

/*
 * Read message e and measure it.  Returns KP_OK, KP_GONE (no such file
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

	if ((rc = mdir_open_msg(m, e, &fd, &st, err, errlen)) != KP_OK)
		return rc;
	pop3_size_init(&enc);
	for (;;) {
		r = read(fd, buf, MD_BUF_SIZE);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			e_no = errno;
			util_snprintf(err, errlen, "%s/%s/%s: %s", m->path,
			    MDIR_SUB(e->dir), e->name, strerror(e_no));
			rc = KP_TEMP;
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
	int rc = KP_OK;

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
			util_snprintf(err, errlen, "out of memory");
			rc = KP_TEMP;
			goto out;
		}
		rc = mdir_measure(m, e, buf, err, errlen);
		if (rc == KP_GONE) {
			/* Gone while we looked: no error, no message. */
			e->gone = 1;
			rc = KP_OK;
			if (errlen > 0)
				err[0] = '\0';
		} else if (rc != KP_OK)
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
		mdir_scan_note(m, e->dir, e->name, why);
		return 0;
	}
	return unlinkat(m->dfd[e->dir], e->name, 0);
}

/* ---- the backend ---- */

/*
 * Open the Maildir's subdirectory sub into *fdp (-1 if it is missing) and
 * check it is the mail user's.  Returns KP_OK, or a status with err set.
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
			return KP_OK;
		return md_path_failed(m->rootfd, sub, shown, errno, err,
		    errlen);
	}
	if (fstat(*fdp, &st) == -1) {
		e_no = errno;
		util_snprintf(err, errlen, "%s: %s", shown, strerror(e_no));
		return KP_TEMP;
	}
	if ((rc = md_path_check(&st, MD_K_DIR, o, shown, err, errlen)) != KP_OK)
		return rc;
	return KP_OK;
}

/*
 * Open the Maildir itself: every component below the trusted prefix
 * without following a symlink (md_path_resolve), created if missing and
 * allowed, checked to be the mail user's.  Returns KP_OK, or a status
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
	    KP_OK)
		return rc;
	m->rootfd = md_path_openat(pfd, name, O_RDONLY | O_DIRECTORY, 0);
	if (m->rootfd == -1 && errno == ENOENT && o->create) {
		if (mkdirat(pfd, name, 0700) == -1 && errno != EEXIST) {
			e_no = errno;
			(void)close(pfd);
			util_snprintf(err, errlen, "%s: %s", m->path,
			    strerror(e_no));
			return kp_status_errno(e_no);
		}
		m->rootfd = md_path_openat(pfd, name, O_RDONLY | O_DIRECTORY,
		    0);
	}
	if (m->rootfd == -1 && errno == ENOENT && !o->create) {
		(void)close(pfd);
		util_snprintf(err, errlen, "%s: no such maildrop", m->path);
		return KP_PERM;
	}
	if (m->rootfd == -1) {
		rc = md_path_failed(pfd, name, m->path, errno, err, errlen);
		(void)close(pfd);
		return rc;
	}
	(void)close(pfd);
	if (fstat(m->rootfd, &st) == -1) {
		e_no = errno;
		util_snprintf(err, errlen, "%s: %s", m->path, strerror(e_no));
		return KP_TEMP;
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
	struct stat lst;
	char lockpath[PATH_MAX];
	const char *fmt;
	unsigned long long cutoff;
	size_t i, k, cap = 0;
	int rc, e_no, fds[3] = { -1, -1, -1 }, dirty = 0, kind;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return KP_TEMP;
	}
	md->be = m;
	m->rootfd = m->dfd[0] = m->dfd[1] = -1;
	m->note = opts->note;
	if ((m->path = strdup(path)) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return KP_TEMP;
	}
	if ((rc = mdir_openroot(m, opts, err, errlen)) != KP_OK)
		return rc;
	/* Look at all of it before creating anything. */
	for (i = 0; i < 3; i++)
		if ((rc = mdir_opendir(m, subs[i], opts, &fds[i], err,
		    errlen)) != KP_OK)
			goto subdirs;
	if ((rc = mdir_cache_check(m, -1, opts, err, errlen)) != KP_OK)
		goto subdirs;
	for (i = 0; i < 3; i++) {
		if (fds[i] != -1)
			continue;
		if (!opts->create) {
			util_snprintf(err, errlen, "%s: not a Maildir (no %s/)",
			    path, subs[i]);
			rc = KP_PERM;
			goto subdirs;
		}
		if (mkdirat(m->rootfd, subs[i], 0700) == -1 &&
		    errno != EEXIST) {
			e_no = errno;
			util_snprintf(err, errlen, "%s/%s: %s", path, subs[i],
			    strerror(e_no));
			rc = kp_status_errno(e_no);
			goto subdirs;
		}
		if ((rc = mdir_opendir(m, subs[i], opts, &fds[i], err,
		    errlen)) != KP_OK)
			goto subdirs;
		if (fds[i] == -1) {
			util_snprintf(err, errlen, "%s/%s: vanished", path,
			    subs[i]);
			rc = KP_TEMP;
			goto subdirs;
		}
	}
subdirs:
	if (fds[0] != -1)
		(void)close(fds[0]);
	m->dfd[MDIR_NEW] = fds[1];
	m->dfd[MDIR_CUR] = fds[2];
	if (rc != KP_OK)
		return rc;

	(void)util_snprintf(lockpath, sizeof(lockpath), "%s/%s", path,
	    MDIR_LOCK);
	if ((rc = md_lock_session(md, m->rootfd, MDIR_LOCK, lockpath, opts,
	    err, errlen)) != KP_OK)
		return rc;
	/* The lock was stamped now, by the storage's clock (mdir_scan_dir). */
	if (fstat(md->lock_fd, &lst) == 0) {
		m->locked_at = lst.st_mtim;
		m->locked_ok = 1;
	}

	if ((rc = mdir_cache_load(m, opts, err, errlen)) != KP_OK)
		return rc;
	if (!m->cache_bad && !m->cache_v1 &&
	    mdir_scan_stamp(m->dfd[MDIR_NEW], &now[MDIR_NEW]) == 0 &&
	    mdir_scan_stamp(m->dfd[MDIR_CUR], &now[MDIR_CUR]) == 0 &&
	    mdir_scan_same(&now[MDIR_NEW], &m->cstamp[MDIR_NEW]) &&
	    mdir_scan_same(&now[MDIR_CUR], &m->cstamp[MDIR_CUR])) {
		/* Neither directory changed since the listing was made. */
		if ((rc = mdir_cache_listing(m, err, errlen)) != KP_OK)
			return rc;
	} else {
		if ((rc = mdir_scan_dir(m, MDIR_NEW, &cap, err, errlen)) !=
		    KP_OK ||
		    (rc = mdir_scan_dir(m, MDIR_CUR, &cap, err, errlen)) !=
		    KP_OK)
			return rc;
		mdir_scan_sort(m);
		/* Past the limit, serve the oldest. */
		while (m->n > MD_MSGS_MAX) {
			free(m->ents[--m->n].name);	/* not borrowed */
			m->truncated = 1;
		}
		if ((rc = mdir_sizes(m, &dirty, err, errlen)) != KP_OK)
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
		util_snprintf(err, errlen, "out of memory");
		return KP_TEMP;
	}
	fmt = NULL;
	kind = MD_UIDL_FILENAME;
	if (opts->uidl_format != NULL && (kind = md_uidfmt_setting(
	    opts->uidl_format, &fmt, err, errlen)) == -1)
		return KP_PERM;
	if (kind == MD_UIDL_DOVECOT) {
		/* Dovecot's order and UIDLs (mdir-uidlist.c). */
		if ((rc = mdir_uidlist_apply(m, opts, fmt, md->msgs, err,
		    errlen)) != KP_OK)
			return rc;
	} else if (kind == MD_UIDL_COURIER) {
		if ((rc = mdir_courier_apply(m, opts, md->msgs, err,
		    errlen)) != KP_OK)
			return rc;
	} else if (kind == MD_UIDL_XUIDL) {
		if (md_uidfmt_cutoff(fmt, &cutoff, err, errlen) == -1)
			return KP_PERM;
		if ((rc = mdir_xuidl_apply(m, cutoff, md->msgs, err,
		    errlen)) != KP_OK)
			return rc;
	} else
		for (i = 0; i < m->n; i++)
			md_uidl_from(m->ents[i].name, m->ents[i].baselen,
			    md->msgs[i].uidl);
	for (i = 0; i < m->n; i++)
		md->msgs[i].size = m->ents[i].size;
	md->count = m->n;
	return KP_OK;
}

static int
maildir_msg_fd(struct maildrop *md, size_t i, int *fdp, off_t *offp,
    off_t *lenp, char *err, size_t errlen)
{
	struct mdir *m = md->be;
	struct stat st;
	int fd, rc;

	rc = mdir_open_msg(m, &m->ents[i], &fd, &st, err, errlen);
	if (rc == KP_GONE)
		return KP_GONE;
	if (rc != KP_OK)
		return KP_TEMP;	/* md_msg_fd() fails only so */
	*fdp = fd;
	*offp = 0;
	*lenp = st.st_size;
	return KP_OK;
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
			if (mdir_scan_refresh(m) == 0 && mdir_unlink(m, e) == 0)
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
		util_snprintf(err, errlen, "%s: %zu of %zu deletions failed: "
		    "%s", m->path, failed, total, strerror(first_errno));
		return KP_TEMP;
	}
	return KP_OK;
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

