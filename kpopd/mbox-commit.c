/* SPDX-License-Identifier: MIT */
/*
 * kpopd/mbox-commit.c: the mbox backend's md_commit() and the recovery of
 * an interrupted one at the next md_open().
 *
 * Committing.  Under both MDA locks, the file must still be the one of
 * the snapshot (dev/ino, size, each From_ line at its offset); then it is
 * rewritten in place (never renamed over: an MDA holding it open would
 * write into a dead file) with a journal, .<name>.kpopd-journal:
 *
 *   1  copy [W, EOF) to .<name>.kpopd-journal.tmp, W the first deleted
 *      message: the kept messages after it and any mail delivered since
 *      the snapshot; fsync; write its header (W, length L, the new length
 *      N of that region, dev/ino, SHA-256 over header and data); fsync;
 *      rename to the final name (now it is valid); fsync the directory;
 *   2  write the kept messages and the later mail at W, fsync, truncate
 *      to W + N, fsync;
 *   3  unlink the journal, fsync the directory.
 *
 * md_open() finds a valid journal left by a crash and finishes the job,
 * under the MDA locks, before it reads the snapshot.  If the file is
 * shorter than W + L, or [W + N, W + L) no longer holds the old bytes the
 * journal has there, the truncation of step 2 happened, and with it all
 * of step 2's writes: the rewrite is complete, the journal is dropped.
 * Otherwise the journal is written back at W: the file is as before the
 * commit.  Mail an MDA appended after the crash (once our dotlock went
 * stale) sits past W + L or past W + N respectively and is kept either
 * way.  A temporary or corrupt journal never described a valid state and
 * is removed; one for another file (its inode) is set aside, not applied.
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
#include <time.h>
#include <unistd.h>

#include "common/dotlock.h"
#include "common/limits.h"
#include "common/util.h"
#include "kpopd/mbox-int.h"

#ifdef KPOP_TEST_HOOKS
int (*mbox_test_step)(int);
#endif

/*
 * The journal header: magic, then W, L, N, dev, ino as 64-bit little
 * endian, then SHA-256 over those 48 bytes and the L bytes of data that
 * follow the header.
 */
#define MBOX_J_MAGIC	"KPOPJNL1"
#define MBOX_J_SUMOFF	48
#define MBOX_J_HDR	128

/* ---- small file helpers ---- */

/*
 * Copy len bytes from in at inoff to out at outoff, adding them to h if
 * not NULL.  Returns 0 or -1 (errno; EIO if in was shorter).
 */
static int
mbox_copy(struct mbox *mb, int in, off_t inoff, int out, off_t outoff,
    off_t len, struct md_hash *h)
{
	size_t want;
	ssize_t r;

	while (len > 0) {
		want = len > MD_BUF_SIZE ? MD_BUF_SIZE : (size_t)len;
		if ((r = util_pread_full(in, mb->buf, want, inoff)) == -1)
			return -1;
		if ((size_t)r != want) {
			errno = EIO;
			return -1;
		}
		if (h != NULL)
			md_hash_update(h, mb->buf, want);
		if (util_write_all(out, mb->buf, want, outoff) == -1)
			return -1;
		inoff += (off_t)want;
		outoff += (off_t)want;
		len -= (off_t)want;
		(void)dotlock_refresh(&mb->dl);
	}
	return 0;
}

static void
mbox_put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
mbox_get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* ---- the journal ---- */

/* The path of name, a file in the mbox's directory, for messages. */
static void
mbox_shown(const struct mbox *mb, const char *name, char *buf, size_t len)
{
	const char *slash = strrchr(mb->path, '/');

	(void)util_snprintf(buf, len, "%.*s%s", slash != NULL ?
	    (int)(slash + 1 - mb->path) : 0, mb->path, name);
}

/*
 * Remove the journal, its job done or undone (step 3 of a commit, the end
 * of a recovery), and make that durable; step numbers the test hook in
 * between.  Returns KP_OK, or KP_TEMP with err set (the journal stays
 * for the next md_open()).
 */
static int
mbox_journal_done(struct mbox *mb, int step, char *err, size_t errlen)
{
	int e;

	if (unlink(mb->jpath) == -1) {
		e = errno;
		util_snprintf(err, errlen, "%s: %s", mb->jpath, strerror(e));
		return KP_TEMP;
	}
	(void)MBOX_STEP(step);
	(void)fsync(mb->dirfd);
	return KP_OK;
}

/*
 * Finish or undo an interrupted commit (see the top of this file).  fd is
 * the mbox, locked, or -1 if it is missing.  Returns KP_OK or a status
 * with err set (the journal is then left for the next try).
 */
int
mbox_commit_recover(struct mbox *mb, int fd, char *err, size_t errlen)
{
	struct md_hash h;
	struct stat jst, st;
	unsigned char hdr[MBOX_J_HDR], dig[MD_HASH_LEN], *b2 = NULL;
	uint64_t w, l, n, ino;
	off_t pos, left;
	size_t want;
	ssize_t r;
	char orphan[PATH_MAX];
	int jfd, e, valid = 0, truncated, rc = KP_TEMP, hashok = 0;

	/* A journal that never got its name never described anything. */
	if (unlink(mb->jtmp) == -1 && errno != ENOENT) {
		e = errno;
		util_snprintf(err, errlen, "%s: %s", mb->jtmp, strerror(e));
		return kp_status_errno(e);
	}
	if ((jfd = md_path_openat(mb->dirfd, mb->jpath, O_RDONLY | O_NONBLOCK,
	    0)) == -1) {
		if (errno == ENOENT)
			return KP_OK;
		e = errno;
		if (e == ELOOP) {
			mbox_shown(mb, mb->jpath, orphan, sizeof(orphan));
			return md_path_failed(mb->dirfd, mb->jpath, orphan, e,
			    err, errlen);
		}
		util_snprintf(err, errlen, "%s: %s", mb->jpath, strerror(e));
		return KP_TEMP;
	}
	if (md_hash_init(&h) == -1) {
		(void)close(jfd);
		util_snprintf(err, errlen, "out of memory");
		return KP_TEMP;
	}
	hashok = 1;
	/* Errors reading it are not proof it is bad: keep it then. */
	if (fstat(jfd, &jst) == -1)
		goto rfail;
	mbox_shown(mb, mb->jpath, orphan, sizeof(orphan));
	if (md_path_check(&jst, MD_K_FILE, &mb->opts, orphan, err, errlen) !=
	    KP_OK) {
		/* Not one kpopd wrote: apply nothing, remove nothing. */
		rc = KP_PERM;
		goto out;
	}
	if ((r = util_pread_full(jfd, hdr, sizeof(hdr), 0)) == -1)
		goto rfail;
	if (r != (ssize_t)sizeof(hdr) || memcmp(hdr, MBOX_J_MAGIC, 8) != 0)
		goto checked;
	w = mbox_get64(hdr + 8);
	l = mbox_get64(hdr + 16);
	n = mbox_get64(hdr + 24);
	ino = mbox_get64(hdr + 40);
	if (l == 0 || n >= l || l > MD_SIZE_MAX || w > MD_SIZE_MAX ||
	    (uint64_t)jst.st_size != MBOX_J_HDR + l)
		goto checked;
	md_hash_update(&h, hdr, MBOX_J_SUMOFF);
	for (pos = MBOX_J_HDR; pos < jst.st_size; pos += r) {
		want = jst.st_size - pos > MD_BUF_SIZE ? MD_BUF_SIZE :
		    (size_t)(jst.st_size - pos);
		if ((r = util_pread_full(jfd, mb->buf, want, pos)) == -1)
			goto rfail;
		if (r != (ssize_t)want)
			goto checked;
		md_hash_update(&h, mb->buf, want);
	}
	if (md_hash_final(&h, dig) == -1) {
		util_snprintf(err, errlen, "%s: hashing failed", mb->jpath);
		goto out;
	}
	if (memcmp(dig, hdr + MBOX_J_SUMOFF, MD_HASH_LEN) != 0)
		goto checked;
	valid = 1;
checked:
	if (!valid) {
		(void)close(jfd);
		jfd = -1;
		if (unlink(mb->jpath) == -1 && errno != ENOENT) {
			e = errno;
			util_snprintf(err, errlen, "%s: %s", mb->jpath,
			    strerror(e));
			goto out;
		}
		(void)fsync(mb->dirfd);
		rc = KP_OK;
		goto out;
	}
	/*
	 * The device number is not compared: it is the writing host's
	 * number for the mount (another server of one NFS store, or this
	 * one before a reboot), and the journal sits beside the mbox, on
	 * its file system.
	 */
	if (fd == -1 || fstat(fd, &st) == -1 || (uint64_t)st.st_ino != ino) {
		/* Not this file's: keep it for a human, apply nothing. */
		if (util_snprintf(orphan, sizeof(orphan), "%s.orphan.%lld",
		    mb->jpath, (long long)time(NULL)) == -1 ||
		    rename(mb->jpath, orphan) == -1) {
			e = errno;
			util_snprintf(err, errlen, "%s: cannot set aside: %s",
			    mb->jpath, strerror(e));
			goto out;
		}
		(void)fsync(mb->dirfd);
		rc = KP_OK;
		goto out;
	}
	/* Did step 2 reach its truncation? */
	truncated = (uint64_t)st.st_size < w + l;
	if (!truncated) {
		if ((b2 = malloc(MD_BUF_SIZE)) == NULL) {
			util_snprintf(err, errlen, "out of memory");
			goto out;
		}
		for (left = (off_t)(l - n), pos = 0; left > 0 && !truncated;
		    left -= (off_t)want, pos += (off_t)want) {
			want = left > MD_BUF_SIZE ? MD_BUF_SIZE : (size_t)left;
			if (util_pread_full(jfd, mb->buf, want, MBOX_J_HDR +
			    (off_t)n + pos) != (ssize_t)want ||
			    util_pread_full(fd, b2, want, (off_t)(w + n) + pos) !=
			    (ssize_t)want) {
				e = errno;
				util_snprintf(err, errlen, "%s: read: %s",
				    mb->path, strerror(e));
				goto out;
			}
			if (memcmp(mb->buf, b2, want) != 0)
				truncated = 1;
		}
	}
	if (!truncated) {
		/* Undo: the old bytes back at W; later mail stays past W+L. */
		if ((e = MBOX_STEP(20)) != 0) {
			errno = e;
			goto wfail;
		}
		if (mbox_copy(mb, jfd, MBOX_J_HDR, fd, (off_t)w, (off_t)l,
		    NULL) == -1)
			goto wfail;
		if ((e = MBOX_STEP(21)) != 0) {
			errno = e;
			goto wfail;
		}
	}
	if (fsync(fd) == -1)
		goto wfail;
	rc = mbox_journal_done(mb, 22, err, errlen);
	goto out;
rfail:
	e = errno;
	util_snprintf(err, errlen, "read %s: %s", mb->jpath, strerror(e));
	goto out;
wfail:
	e = errno;
	util_snprintf(err, errlen, "%s: recovering from %s: %s", mb->path,
	    mb->jpath, strerror(e));
out:
	free(b2);
	if (hashok)
		md_hash_free(&h);
	if (jfd != -1)
		(void)close(jfd);
	return rc;
}

/*
 * Step 1 of a commit: the journal of [w, w + l) of fd, with the new length
 * n, made valid by its rename.  Returns a descriptor of it, or -1 with
 * errno set and no journal left behind.
 */
static int
mbox_journal(struct mbox *mb, int fd, off_t w, off_t l, off_t n)
{
	struct md_hash h;
	unsigned char hdr[MBOX_J_HDR];
	int jfd, e, hashok = 0;

	if (unlink(mb->jtmp) == -1 && errno != ENOENT)
		return -1;
	jfd = open(mb->jtmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW | O_NOCTTY, 0600);
	if (jfd == -1)
		return -1;
	if (md_hash_init(&h) == -1) {
		errno = ENOMEM;
		goto fail;
	}
	hashok = 1;
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, MBOX_J_MAGIC, 8);
	mbox_put64(hdr + 8, (uint64_t)w);
	mbox_put64(hdr + 16, (uint64_t)l);
	mbox_put64(hdr + 24, (uint64_t)n);
	mbox_put64(hdr + 32, (uint64_t)mb->dev);
	mbox_put64(hdr + 40, (uint64_t)mb->ino);
	md_hash_update(&h, hdr, MBOX_J_SUMOFF);
	if (mbox_copy(mb, fd, w, jfd, MBOX_J_HDR, l, &h) == -1 ||
	    fsync(jfd) == -1)
		goto fail;
	if ((e = MBOX_STEP(2)) != 0) {
		errno = e;
		goto fail;
	}
	if (md_hash_final(&h, hdr + MBOX_J_SUMOFF) == -1) {
		errno = ENOMEM;
		goto fail;
	}
	if (util_write_all(jfd, hdr, sizeof(hdr), 0) == -1 || fsync(jfd) == -1)
		goto fail;
	if ((e = MBOX_STEP(3)) != 0) {
		errno = e;
		goto fail;
	}
	if (rename(mb->jtmp, mb->jpath) == -1)
		goto fail;
	md_hash_free(&h);
	/* From here the journal is valid; a failure leaves it for md_open. */
	(void)MBOX_STEP(4);
	if (fsync(mb->dirfd) == -1) {
		/* Not durable: take it back before touching the mbox. */
		e = errno;
		(void)close(jfd);
		(void)unlink(mb->jpath);
		errno = e;
		return -1;
	}
	return jfd;
fail:
	e = errno;
	if (hashok)
		md_hash_free(&h);
	(void)close(jfd);
	(void)unlink(mb->jtmp);
	errno = e;
	return -1;
}

/*
 * Whether the file under fd is still the snapshot's: same file, not
 * shorter, each From_ line where it was.  Returns KP_OK or KP_TEMP.
 */
static int
mbox_verify(struct mbox *mb, int fd, off_t *sizep, char *err,
    size_t errlen)
{
	struct stat st;
	struct mbox_msg *m;
	uint64_t h;
	off_t left, pos;
	size_t i, want;
	int e;

	if (fstat(fd, &st) == -1) {
		e = errno;
		util_snprintf(err, errlen, "%s: %s", mb->path, strerror(e));
		return KP_TEMP;
	}
	if (st.st_dev != mb->dev || st.st_ino != mb->ino ||
	    st.st_size < mb->snap_end) {
		util_snprintf(err, errlen, "%s was replaced or truncated by "
		    "another program during the session; nothing deleted",
		    mb->path);
		return KP_TEMP;
	}
	for (i = 0; i < mb->n; i++) {
		m = &mb->msgs[i];
		h = MD_HASH_FNV_INIT;
		for (pos = m->from_off, left = m->msg_off - m->from_off;
		    left > 0; left -= (off_t)want, pos += (off_t)want) {
			want = left > MD_BUF_SIZE ? MD_BUF_SIZE : (size_t)left;
			if (util_pread_full(fd, mb->buf, want, pos) !=
			    (ssize_t)want)
				break;
			h = md_hash_fnv(h, mb->buf, want);
		}
		if (left > 0 || h != m->from_hash) {
			util_snprintf(err, errlen, "%s was rewritten by "
			    "another program during the session; nothing deleted",
			    mb->path);
			return KP_TEMP;
		}
	}
	*sizep = st.st_size;
	return KP_OK;
}

static int
mbox_commit_in(struct maildrop *md, const unsigned char *del, char *err,
    size_t errlen)
{
	struct mbox *mb = md->be;
	struct stat st;
	off_t w, l, n, eof, out;
	size_t d, k;
	int fd = -1, jfd = -1, e, rc;

	if (!mb->exists)
		return KP_OK;
	/* md_commit() fails with KP_TEMP only: the session is over anyway. */
	if (mbox_lock_take(mb, &fd, err, errlen) != KP_OK)
		return KP_TEMP;
	if (fd == -1) {
		util_snprintf(err, errlen, "%s was removed during the session; "
		    "nothing deleted", mb->path);
		rc = KP_TEMP;
		goto out;
	}
	if ((rc = mbox_verify(mb, fd, &eof, err, errlen)) != KP_OK)
		goto out;
	rc = KP_TEMP;
	if (lstat(mb->jpath, &st) == 0) {
		util_snprintf(err, errlen, "%s: a journal is pending; nothing "
		    "deleted", mb->jpath);
		goto out;
	}
	for (d = 0; d < mb->n && !del[d]; d++)
		;
	w = mb->msgs[d].from_off;
	l = eof - w;
	n = eof - mb->snap_end;
	for (k = d + 1; k < mb->n; k++)
		if (!del[k])
			n += mb->msgs[k].range_end - mb->msgs[k].from_off;
	if ((e = MBOX_STEP(1)) != 0) {
		errno = e;
		goto fail_before;
	}
	if (n == 0) {
		/* Only the end goes: one truncation, atomic by itself. */
		if (ftruncate(fd, w) == -1 || fsync(fd) == -1)
			goto fail_before;
		rc = KP_OK;
		goto out;
	}
	mbox_lock_spool(&mb->spool, 1);
	jfd = mbox_journal(mb, fd, w, l, n);
	mbox_lock_spool(&mb->spool, 0);
	if (jfd == -1)
		goto fail_before;

	/* Step 2: the kept messages, then later mail, moved down to w. */
	out = w;
	for (k = d + 1; k < mb->n; k++) {
		if (del[k])
			continue;
		if (mbox_copy(mb, jfd, MBOX_J_HDR + mb->msgs[k].from_off - w,
		    fd, out, mb->msgs[k].range_end - mb->msgs[k].from_off,
		    NULL) == -1)
			goto fail_write;
		out += mb->msgs[k].range_end - mb->msgs[k].from_off;
		if ((e = MBOX_STEP(5)) != 0) {
			errno = e;
			goto fail_write;
		}
	}
	if (mbox_copy(mb, jfd, MBOX_J_HDR + mb->snap_end - w, fd, out,
	    eof - mb->snap_end, NULL) == -1 || fsync(fd) == -1)
		goto fail_write;
	if ((e = MBOX_STEP(6)) != 0) {
		errno = e;
		goto fail_write;
	}
	if (ftruncate(fd, w + n) == -1)
		goto fail_write;
	(void)MBOX_STEP(7);
	if (fsync(fd) == -1) {
		/* Done but maybe not durable: the journal decides later. */
		e = errno;
		util_snprintf(err, errlen, "fsync %s: %s; the next session "
		    "completes the deletions", mb->path, strerror(e));
		goto out;
	}
	/* Step 3. */
	mbox_lock_spool(&mb->spool, 1);
	rc = mbox_journal_done(mb, 8, err, errlen);
	mbox_lock_spool(&mb->spool, 0);
	goto out;

fail_write:
	/* Put the old bytes back now rather than at the next md_open. */
	e = errno;
	mbox_lock_spool(&mb->spool, 1);
	if (mbox_copy(mb, jfd, MBOX_J_HDR, fd, w, l, NULL) == 0 &&
	    fsync(fd) == 0 && unlink(mb->jpath) == 0) {
		(void)fsync(mb->dirfd);
		util_snprintf(err, errlen, "rewriting %s: %s; nothing deleted",
		    mb->path, strerror(e));
	} else {
		util_snprintf(err, errlen, "rewriting %s: %s; the next session "
		    "restores it from %s", mb->path, strerror(e), mb->jpath);
	}
	mbox_lock_spool(&mb->spool, 0);
	goto out;
fail_before:
	e = errno;
	util_snprintf(err, errlen, "%s: %s; nothing deleted", mb->path,
	    strerror(e));
out:
	if (jfd != -1)
		(void)close(jfd);
	mbox_lock_drop(mb, &fd);
	return rc;
}

/* The commit, in the mbox's directory (mbox_lock_enter). */
int
mbox_commit(struct maildrop *md, const unsigned char *del, char *err,
    size_t errlen)
{
	struct mbox *mb = md->be;
	int cwd, rc;

	if (!mb->exists)
		return KP_OK;
	if ((cwd = mbox_lock_enter(mb, err, errlen)) == -2)
		return KP_TEMP;
	rc = mbox_commit_in(md, del, err, errlen);
	mbox_lock_leave(cwd);
	return rc;
}

