/*
 * kpopd/mbox.c: the mbox backend of maildrop.h.
 *
 * Locking.  kpopd holds its own session lock (md-lock.c) for the whole
 * session, but the locks mail delivery agents honour only while it reads
 * the snapshot and while md_commit() rewrites the file, so procmail,
 * Postfix local and Dovecot LDA deliver during a session.  Those are, as
 * on Debian (Policy 11.6): the dotlock <mbox>.lock (common/dotlock.c:
 * linked into place whole, refreshed while we work, stale ones broken,
 * such as one a kpopd killed during a commit left), then an fcntl write
 * lock on the mbox.  Both are tried without blocking until
 * opts->lock_timeout, so the order cannot deadlock.
 *
 * Parsing.  A message starts at a "From " line at the start of the file
 * or after an empty line; it is the bytes after that line up to, not
 * including, the empty line before the next one (at the end of the file,
 * one trailing empty line is dropped).  ">From " quoting stays as stored.
 * The UIDL is the message's X-UIDL header if it is a valid one, else a
 * SHA-256 of the From_ line and the header (less the fields MUAs rewrite:
 * Status, X-Status, X-Keywords, X-UID, X-IMAP, X-IMAPbase,
 * Content-Length, Lines, X-UIDL), so it survives rewrites of the file and
 * of the flags.
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
 * is removed; one for another file (dev/ino) is set aside, not applied.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/dotlock.h"
#include "common/limits.h"
#include "common/pop3.h"
#include "common/util.h"
#include "kpopd/md-int.h"

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

/* Characters of SHA-256 hex used for a UIDL. */
#define MBOX_UIDL_HEX	32

struct mbox_msg {
	off_t		 from_off;	/* the From_ line */
	off_t		 msg_off;	/* the message, after the From_ line */
	off_t		 msg_len;
	off_t		 range_end;	/* next From_ line, or snap_end */
	uint64_t	 from_hash;	/* FNV-1a of the From_ line */
};

/*
 * Files are named relative to the mbox's directory, dirfd, opened
 * without following a symlink the user planted (md_path_resolve): *at calls
 * on dirfd, and the path calls (the dotlock's, the journal's) in between
 * mbox_enter() and mbox_leave(), with dirfd as the working directory.
 */
struct mbox {
	char		*path;		/* for messages */
	char		*name;		/* <name> */
	int		 dirfd;
	struct md_opts	 opts;
	char		*jpath;		/* .<name>.kpopd-journal */
	char		*jtmp;		/* ... .tmp */
	unsigned int	 lock_timeout;
	struct md_spool	 spool;		/* for writes in dir (mbox_spool) */
	int		 exists;	/* the mbox was there at open */
	dev_t		 dev;
	ino_t		 ino;
	off_t		 snap_end;
	struct mbox_msg	*msgs;
	size_t		 n;
	struct dotlock	 dl;		/* <mbox>.lock, while held */
	unsigned char	*buf;		/* MD_BUF_SIZE, for copies */
};

/* ---- MDA locks ---- */

/*
 * Make the spool group the effective gid (on 1), or the real gid again
 * (on 0), if sp->ok.  Around the steps that create or remove files in an
 * mbox's directory only.  Entering may fail (the step then fails with
 * EACCES as it would have); leaving cannot, and aborts if it does.
 */
static void
mbox_spool(const struct md_spool *sp, int on)
{
	if (!sp->ok)
		return;
	if (on) {
		/* A failure shows as EACCES in the step that needed it. */
		if (setegid(sp->gid) == -1)
			return;
	} else if (setegid(getgid()) == -1)
		abort();	/* the real gid is always allowed */
}

/*
 * One of the MDA locks is taken by another program: wait a poll interval
 * and return MD_OK to try again, or, once the deadline (lock_timeout from
 * the first try) has passed, MD_TEMP with err set.  what names the lock.
 */
static int
mbox_lock_wait(struct mbox *mb, long long deadline, const char *what,
    char *err, size_t errlen)
{
	if (util_now_ms() >= deadline) {
		md_err(err, errlen, "%s is locked by another program (%s)",
		    mb->path, what);
		return MD_TEMP;
	}
	util_sleep_ms(MD_LOCK_POLL_MS);
	return MD_OK;
}

/*
 * Take the MDA locks and open the mbox read-write in *fdp.  A missing
 * mbox gives MD_OK with *fdp = -1 (the dotlock still held).  On failure
 * nothing is held.
 */
static int
mbox_lock(struct mbox *mb, int *fdp, char *err, size_t errlen)
{
	struct stat st;
	long long deadline;
	int fd = -1, e, rc, busy;

	*fdp = -1;
	deadline = util_now_ms() + (long long)mb->lock_timeout * 1000;
	mbox_spool(&mb->spool, 1);
	rc = dotlock_take(&mb->dl, mb->name, "kpopd", deadline, err, errlen);
	mbox_spool(&mb->spool, 0);
	if (rc != DOTLOCK_OK)
		return rc == DOTLOCK_BUSY ? MD_TEMP :
		    md_err_status(mb->dl.errnum);
	if ((fd = md_path_openat(mb->dirfd, mb->name, O_RDWR | O_NONBLOCK,
	    0)) == -1) {
		e = errno;
		if (e == ENOENT)
			return MD_OK;
		rc = md_path_failed(mb->dirfd, mb->name, mb->path, e, err,
		    errlen);
		goto fail;
	}
	if (fstat(fd, &st) == -1) {
		e = errno;
		md_err(err, errlen, "%s: %s", mb->path, strerror(e));
		rc = MD_TEMP;
		goto fail;
	}
	if ((rc = md_path_check(&st, MD_K_FILE, &mb->opts, mb->path, err,
	    errlen)) != MD_OK)
		goto fail;
	while ((busy = util_trylock(fd)) != 0) {
		if (busy == -1) {
			e = errno;
			md_err(err, errlen, "lock %s: %s", mb->path,
			    strerror(e));
			rc = MD_TEMP;
			goto fail;
		}
		if ((rc = mbox_lock_wait(mb, deadline, "fcntl", err,
		    errlen)) != MD_OK)
			goto fail;
	}
	*fdp = fd;
	return MD_OK;
fail:
	if (fd != -1)
		(void)close(fd);
	mbox_spool(&mb->spool, 1);
	(void)dotlock_release(&mb->dl);
	mbox_spool(&mb->spool, 0);
	return rc;
}

/* Release the MDA locks (closing the mbox drops the fcntl lock). */
static void
mbox_unlock(struct mbox *mb, int *fdp)
{
	if (*fdp != -1) {
		(void)close(*fdp);
		*fdp = -1;
	}
	mbox_spool(&mb->spool, 1);
	(void)dotlock_release(&mb->dl);
	mbox_spool(&mb->spool, 0);
}

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

/* ---- the snapshot ---- */

/* Header fields left out of the UIDL hash: MUAs rewrite them. */
static const char *const mbox_volatile[] = {
	"Status", "X-Status", "X-Keywords", "X-UID", "X-IMAP", "X-IMAPbase",
	"Content-Length", "Lines", "X-UIDL"
};

enum { XU_NONE, XU_CAND, XU_OK, XU_BAD };

struct mbox_parse {
	struct mbox		*mb;
	struct maildrop		*md;
	size_t			 cap;
	int			 in_msg;	/* a message is open */
	int			 in_from;	/* inside its From_ line */
	int			 in_hdr;	/* inside its header */
	int			 hdr_skip;	/* this field is volatile */
	int			 prev_empty;	/* the last line was empty */
	int			 pending;	/* an empty line held back */
	size_t			 pend_len;	/* 1 (LF) or 2 (CRLF) */
	off_t			 fed_end;	/* end of the message so far */
	struct pop3_enc		 enc;
	struct md_hash		 h;
	int			 hashed;	/* the UIDL hash is final */
	unsigned char		 dig[MD_HASH_LEN];
	int			 xu;		/* XU_* */
	char			 xuidl[POP3_UIDL_MAX + 1];
};

/* The end of the header: the UIDL hash is complete. */
static int
mbox_hdr_end(struct mbox_parse *ps)
{
	if (ps->in_hdr) {
		ps->in_hdr = 0;
		if (ps->xu == XU_CAND)
			ps->xu = XU_OK;
	}
	if (!ps->hashed) {
		ps->hashed = 1;
		if (md_hash_final(&ps->h, ps->dig) == -1)
			return -1;
	}
	return 0;
}

/* Close the open message; the next From_ line (or the end) is at end. */
static int
mbox_finish(struct mbox_parse *ps, off_t end)
{
	struct mbox_msg *m = &ps->mb->msgs[ps->mb->n];
	struct md_msg *mm = &ps->md->msgs[ps->mb->n];
	char hex[2 * MD_HASH_LEN + 1];

	if (!ps->in_msg)
		return 0;
	if (ps->in_from) {
		/* A From_ line at the very end, without its LF. */
		ps->in_from = 0;
		m->msg_off = ps->fed_end;
	}
	if (mbox_hdr_end(ps) == -1)
		return -1;
	/* A held-back empty line here is the separator: not the message. */
	ps->pending = 0;
	m->msg_len = ps->fed_end - m->msg_off;
	m->range_end = end;
	mm->size = pop3_size_end(&ps->enc);
	if (ps->xu == XU_OK)
		(void)util_strlcpy(mm->uidl, ps->xuidl, sizeof(mm->uidl));
	else {
		util_hex(ps->dig, MD_HASH_LEN, hex);
		hex[MBOX_UIDL_HEX] = '\0';
		(void)util_strlcpy(mm->uidl, hex, sizeof(mm->uidl));
	}
	ps->mb->n++;
	ps->in_msg = 0;
	return 0;
}

static int
mbox_start(struct mbox_parse *ps, off_t off)
{
	struct mbox_msg *nm;
	struct md_msg *nmm;
	size_t cap;

	if (ps->mb->n == ps->cap) {
		cap = ps->cap == 0 ? 64 : ps->cap * 2;
		if ((nm = reallocarray(ps->mb->msgs, cap, sizeof(*nm))) ==
		    NULL)
			return -1;
		ps->mb->msgs = nm;
		if ((nmm = reallocarray(ps->md->msgs, cap, sizeof(*nmm))) ==
		    NULL)
			return -1;
		ps->md->msgs = nmm;
		ps->cap = cap;
	}
	memset(&ps->mb->msgs[ps->mb->n], 0, sizeof(*nm));
	memset(&ps->md->msgs[ps->mb->n], 0, sizeof(*nmm));
	ps->mb->msgs[ps->mb->n].from_off = off;
	ps->mb->msgs[ps->mb->n].from_hash = MD_HASH_FNV_INIT;
	ps->in_msg = 1;
	ps->in_from = 1;
	ps->in_hdr = 0;
	ps->hdr_skip = 0;
	ps->pending = 0;
	ps->hashed = 0;
	ps->xu = XU_NONE;
	ps->fed_end = off;
	pop3_size_init(&ps->enc);
	return 0;
}

/* The first piece of a header line. */
static void
mbox_hdr_line(struct mbox_parse *ps, const unsigned char *p, size_t n,
    int eol)
{
	const unsigned char *colon, *v, *e;
	size_t namelen, i;

	if (p[0] == ' ' || p[0] == '\t') {
		/* Folded: an X-UIDL is one word on one line. */
		if (ps->xu == XU_CAND)
			ps->xu = XU_BAD;
		return;
	}
	if (ps->xu == XU_CAND)
		ps->xu = XU_OK;
	colon = memchr(p, ':', n);
	namelen = colon != NULL ? (size_t)(colon - p) : n;
	ps->hdr_skip = 0;
	for (i = 0; i < KP_NELEM(mbox_volatile); i++) {
		if (strlen(mbox_volatile[i]) == namelen &&
		    strncasecmp((const char *)p, mbox_volatile[i],
		    namelen) == 0) {
			ps->hdr_skip = 1;
			break;
		}
	}
	if (ps->xu != XU_NONE || colon == NULL || namelen != 6 ||
	    strncasecmp((const char *)p, "X-UIDL", 6) != 0)
		return;
	ps->xu = XU_BAD;
	if (!eol)
		return;
	v = colon + 1;
	e = p + n;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' ||
	    e[-1] == '\t'))
		e--;
	if (pop3_uidl_ok((const char *)v, (size_t)(e - v))) {
		memcpy(ps->xuidl, v, (size_t)(e - v));
		ps->xuidl[e - v] = '\0';
		ps->xu = XU_CAND;
	}
}

/*
 * Read the snapshot from fd (locked, size bytes).  Fills mb->msgs and
 * md->msgs.  Returns MD_OK or a status with err set.
 */
static int
mbox_parse(struct mbox *mb, struct maildrop *md, int fd, off_t size,
    char *err, size_t errlen)
{
	static const char crlf[] = "\r\n";
	struct mbox_parse ps;
	struct md_piece pc;
	struct md_lr lr;
	unsigned long npieces = 0;
	int r, e, empty, rc = MD_TEMP;

	memset(&ps, 0, sizeof(ps));
	ps.mb = mb;
	ps.md = md;
	mb->snap_end = size;
	if (md_lr_init(&lr, fd, 0, size) == -1) {
		md_err(err, errlen, "out of memory");
		return MD_TEMP;
	}
	if (md_hash_init(&ps.h) == -1) {
		md_err(err, errlen, "out of memory");
		goto out;
	}
	while ((r = md_lr_next(&lr, &pc)) == 1) {
		if (++npieces % 4096 == 0)
			(void)dotlock_refresh(&mb->dl);
		if (pc.bol) {
			empty = pc.eol && (pc.n == 1 ||
			    (pc.n == 2 && pc.p[0] == '\r'));
			if ((pc.off == 0 || ps.prev_empty) && pc.n >= 5 &&
			    memcmp(pc.p, "From ", 5) == 0) {
				if (mbox_finish(&ps, pc.off) == -1)
					goto nomem;
				if (mb->n == MD_MSGS_MAX) {
					/* The rest waits for later. */
					mb->snap_end = pc.off;
					break;
				}
				if (mbox_start(&ps, pc.off) == -1)
					goto nomem;
			} else if (pc.off == 0) {
				md_err(err, errlen, "%s: not an mbox (no "
				    "From_ line at the start)", mb->path);
				rc = MD_PERM;
				goto out;
			} else if (!ps.in_from) {
				if (ps.pending) {
					pop3_size_feed(&ps.enc,
					    crlf + 2 - ps.pend_len,
					    ps.pend_len);
					ps.fed_end += (off_t)ps.pend_len;
					ps.pending = 0;
				}
				if (empty) {
					if (mbox_hdr_end(&ps) == -1)
						goto nomem;
					ps.pending = 1;
					ps.pend_len = pc.n;
					ps.prev_empty = 1;
					continue;
				}
				if (ps.in_hdr)
					mbox_hdr_line(&ps, pc.p, pc.n, pc.eol);
			}
		}
		ps.prev_empty = 0;
		if (ps.in_from) {
			struct mbox_msg *m = &mb->msgs[mb->n];

			m->from_hash = md_hash_fnv(m->from_hash, pc.p, pc.n);
			md_hash_update(&ps.h, pc.p, pc.n);
			m->msg_off = pc.off + (off_t)pc.n;
			ps.fed_end = m->msg_off;
			if (pc.eol) {
				ps.in_from = 0;
				ps.in_hdr = 1;
			}
			continue;
		}
		pop3_size_feed(&ps.enc, pc.p, pc.n);
		ps.fed_end = pc.off + (off_t)pc.n;
		if (ps.in_hdr && !ps.hdr_skip)
			md_hash_update(&ps.h, pc.p, pc.n);
	}
	if (r == -1) {
		e = errno;
		md_err(err, errlen, "read %s: %s", mb->path, strerror(e));
		goto out;
	}
	if (lr.shortread) {
		md_err(err, errlen, "%s shrank while locked", mb->path);
		goto out;
	}
	if (mbox_finish(&ps, mb->snap_end) == -1)
		goto nomem;
	md->count = mb->n;
	rc = MD_OK;
	goto out;
nomem:
	md_err(err, errlen, "out of memory");
out:
	md_hash_free(&ps.h);
	md_lr_free(&lr);
	return rc;
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
 * between.  Returns MD_OK, or MD_TEMP with err set (the journal stays
 * for the next md_open()).
 */
static int
mbox_journal_done(struct mbox *mb, int step, char *err, size_t errlen)
{
	int e;

	if (unlink(mb->jpath) == -1) {
		e = errno;
		md_err(err, errlen, "%s: %s", mb->jpath, strerror(e));
		return MD_TEMP;
	}
	(void)MBOX_STEP(step);
	(void)fsync(mb->dirfd);
	return MD_OK;
}

/*
 * Finish or undo an interrupted commit (see the top of this file).  fd is
 * the mbox, locked, or -1 if it is missing.  Returns MD_OK or a status
 * with err set (the journal is then left for the next try).
 */
static int
mbox_recover(struct mbox *mb, int fd, char *err, size_t errlen)
{
	struct md_hash h;
	struct stat jst, st;
	unsigned char hdr[MBOX_J_HDR], dig[MD_HASH_LEN], *b2 = NULL;
	uint64_t w, l, n, dev, ino;
	off_t pos, left;
	size_t want;
	ssize_t r;
	char orphan[PATH_MAX];
	int jfd, e, valid = 0, truncated, rc = MD_TEMP, hashok = 0;

	/* A journal that never got its name never described anything. */
	if (unlink(mb->jtmp) == -1 && errno != ENOENT) {
		e = errno;
		md_err(err, errlen, "%s: %s", mb->jtmp, strerror(e));
		return md_err_status(e);
	}
	if ((jfd = md_path_openat(mb->dirfd, mb->jpath, O_RDONLY | O_NONBLOCK,
	    0)) == -1) {
		if (errno == ENOENT)
			return MD_OK;
		e = errno;
		if (e == ELOOP) {
			mbox_shown(mb, mb->jpath, orphan, sizeof(orphan));
			return md_path_failed(mb->dirfd, mb->jpath, orphan, e,
			    err, errlen);
		}
		md_err(err, errlen, "%s: %s", mb->jpath, strerror(e));
		return MD_TEMP;
	}
	if (md_hash_init(&h) == -1) {
		(void)close(jfd);
		md_err(err, errlen, "out of memory");
		return MD_TEMP;
	}
	hashok = 1;
	/* Errors reading it are not proof it is bad: keep it then. */
	if (fstat(jfd, &jst) == -1)
		goto rfail;
	mbox_shown(mb, mb->jpath, orphan, sizeof(orphan));
	if (md_path_check(&jst, MD_K_FILE, &mb->opts, orphan, err, errlen) !=
	    MD_OK) {
		/* Not one kpopd wrote: apply nothing, remove nothing. */
		rc = MD_PERM;
		goto out;
	}
	if ((r = util_pread_full(jfd, hdr, sizeof(hdr), 0)) == -1)
		goto rfail;
	if (r != (ssize_t)sizeof(hdr) || memcmp(hdr, MBOX_J_MAGIC, 8) != 0)
		goto checked;
	w = mbox_get64(hdr + 8);
	l = mbox_get64(hdr + 16);
	n = mbox_get64(hdr + 24);
	dev = mbox_get64(hdr + 32);
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
		md_err(err, errlen, "%s: hashing failed", mb->jpath);
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
			md_err(err, errlen, "%s: %s", mb->jpath,
			    strerror(e));
			goto out;
		}
		(void)fsync(mb->dirfd);
		rc = MD_OK;
		goto out;
	}
	if (fd == -1 || fstat(fd, &st) == -1 || (uint64_t)st.st_dev != dev ||
	    (uint64_t)st.st_ino != ino) {
		/* Not this file's: keep it for a human, apply nothing. */
		if (util_snprintf(orphan, sizeof(orphan), "%s.orphan.%lld",
		    mb->jpath, (long long)time(NULL)) == -1 ||
		    rename(mb->jpath, orphan) == -1) {
			e = errno;
			md_err(err, errlen, "%s: cannot set aside: %s",
			    mb->jpath, strerror(e));
			goto out;
		}
		(void)fsync(mb->dirfd);
		rc = MD_OK;
		goto out;
	}
	/* Did step 2 reach its truncation? */
	truncated = (uint64_t)st.st_size < w + l;
	if (!truncated) {
		if ((b2 = malloc(MD_BUF_SIZE)) == NULL) {
			md_err(err, errlen, "out of memory");
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
				md_err(err, errlen, "%s: read: %s",
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
	md_err(err, errlen, "read %s: %s", mb->jpath, strerror(e));
	goto out;
wfail:
	e = errno;
	md_err(err, errlen, "%s: recovering from %s: %s", mb->path,
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

/* ---- the backend ---- */

/*
 * Make the mbox's directory the working directory, so that the path
 * calls below (the dotlock's, the journal's) name files in it.  Returns
 * a descriptor of the old one for mbox_leave(), -1 if there was none to
 * go back to, or -2 with err set.
 */
static int
mbox_enter(struct mbox *mb, char *err, size_t errlen)
{
	int old, e;

	old = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fchdir(mb->dirfd) == -1) {
		e = errno;
		if (old != -1)
			(void)close(old);
		md_err(err, errlen, "%s: cannot enter its directory: %s",
		    mb->path, strerror(e));
		return -2;
	}
	return old;
}

static void
mbox_leave(int old)
{
	if (old == -2)
		return;
	if (old == -1 || fchdir(old) == -1) {
		if (chdir("/") == -1)
			abort();	/* "/" is always there */
	}
	if (old >= 0)
		(void)close(old);
}

static int
mbox_open(struct maildrop *md, const char *path, const struct md_opts *opts,
    char *err, size_t errlen)
{
	struct mbox *mb;
	struct stat st;
	const char *name;
	char buf[PATH_MAX], shown[PATH_MAX];
	int fd = -1, cwd, rc, e;

	if ((mb = calloc(1, sizeof(*mb))) == NULL) {
		md_err(err, errlen, "out of memory");
		return MD_TEMP;
	}
	md->be = mb;
	dotlock_init(&mb->dl);
	mb->dirfd = -1;
	mb->lock_timeout = opts->lock_timeout;
	mb->spool = opts->spool;
	mb->opts = *opts;
	if ((rc = md_path_resolve(path, opts, &mb->dirfd, &name, err,
	    errlen)) != MD_OK)
		return rc;
	if ((mb->path = strdup(path)) == NULL ||
	    (mb->name = strdup(name)) == NULL ||
	    (mb->buf = malloc(MD_BUF_SIZE)) == NULL)
		goto nomem;
	if (util_snprintf(buf, sizeof(buf), ".%s.kpopd-journal", name) == -1 ||
	    (mb->jpath = strdup(buf)) == NULL ||
	    util_snprintf(buf, sizeof(buf), "%s.tmp", mb->jpath) == -1 ||
	    (mb->jtmp = strdup(buf)) == NULL ||
	    util_snprintf(buf, sizeof(buf), ".%s.kpopd.lock", name) == -1 ||
	    util_snprintf(shown, sizeof(shown), "%.*s%s", (int)(name - path),
	    path, buf) == -1)
		goto nomem;

	/* A planted mbox is refused before any lock file is made. */
	if (fstatat(mb->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode)) {
			md_err(err, errlen, "%s: a symbolic link; refused",
			    path);
			return MD_PERM;
		}
		if ((rc = md_path_check(&st, MD_K_FILE, opts, path, err,
		    errlen)) != MD_OK)
			return rc;
	}
	mbox_spool(&mb->spool, 1);
	rc = md_lock_session(md, mb->dirfd, buf, shown, opts, err, errlen);
	mbox_spool(&mb->spool, 0);
	if (rc != MD_OK)
		return rc;
	if ((cwd = mbox_enter(mb, err, errlen)) == -2)
		return MD_TEMP;
	if ((rc = mbox_lock(mb, &fd, err, errlen)) != MD_OK)
		goto leave;
	mbox_spool(&mb->spool, 1);
	rc = mbox_recover(mb, fd, err, errlen);
	mbox_spool(&mb->spool, 0);
	if (rc != MD_OK)
		goto out;
	if (fd == -1) {
		/* No mbox yet: an empty maildrop. */
		rc = MD_OK;
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		e = errno;
		md_err(err, errlen, "%s: %s", path, strerror(e));
		rc = MD_TEMP;
		goto out;
	}
	mb->exists = 1;
	mb->dev = st.st_dev;
	mb->ino = st.st_ino;
	rc = mbox_parse(mb, md, fd, st.st_size, err, errlen);
out:
	mbox_unlock(mb, &fd);
leave:
	mbox_leave(cwd);
	return rc;
nomem:
	md_err(err, errlen, "out of memory (or path too long)");
	return MD_TEMP;
}

static int
mbox_msg_fd(struct maildrop *md, size_t i, int *fdp, off_t *offp,
    off_t *lenp, char *err, size_t errlen)
{
	struct mbox *mb = md->be;
	struct mbox_msg *m = &mb->msgs[i];
	struct stat st;
	int fd, e;

	if ((fd = md_path_openat(mb->dirfd, mb->name, O_RDONLY | O_NONBLOCK,
	    0)) == -1) {
		e = errno;
		md_err(err, errlen, "%s: %s", mb->path, strerror(e));
		return e == ENOENT ? MD_GONE : MD_TEMP;
	}
	if (fstat(fd, &st) == -1 || st.st_dev != mb->dev ||
	    st.st_ino != mb->ino || st.st_size < m->msg_off + m->msg_len) {
		(void)close(fd);
		md_err(err, errlen, "%s was replaced or truncated by "
		    "another program", mb->path);
		return MD_GONE;
	}
	*fdp = fd;
	*offp = m->msg_off;
	*lenp = m->msg_len;
	return MD_OK;
}

/*
 * Whether the file under fd is still the snapshot's: same file, not
 * shorter, each From_ line where it was.  Returns MD_OK or MD_TEMP.
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
		md_err(err, errlen, "%s: %s", mb->path, strerror(e));
		return MD_TEMP;
	}
	if (st.st_dev != mb->dev || st.st_ino != mb->ino ||
	    st.st_size < mb->snap_end) {
		md_err(err, errlen, "%s was replaced or truncated by "
		    "another program during the session; nothing deleted",
		    mb->path);
		return MD_TEMP;
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
			md_err(err, errlen, "%s was rewritten by another "
			    "program during the session; nothing deleted",
			    mb->path);
			return MD_TEMP;
		}
	}
	*sizep = st.st_size;
	return MD_OK;
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
		return MD_OK;
	/* md_commit() fails with MD_TEMP only: the session is over anyway. */
	if (mbox_lock(mb, &fd, err, errlen) != MD_OK)
		return MD_TEMP;
	if (fd == -1) {
		md_err(err, errlen, "%s was removed during the session; "
		    "nothing deleted", mb->path);
		rc = MD_TEMP;
		goto out;
	}
	if ((rc = mbox_verify(mb, fd, &eof, err, errlen)) != MD_OK)
		goto out;
	rc = MD_TEMP;
	if (lstat(mb->jpath, &st) == 0) {
		md_err(err, errlen, "%s: a journal is pending; nothing "
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
		rc = MD_OK;
		goto out;
	}
	mbox_spool(&mb->spool, 1);
	jfd = mbox_journal(mb, fd, w, l, n);
	mbox_spool(&mb->spool, 0);
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
		md_err(err, errlen, "fsync %s: %s; the next session "
		    "completes the deletions", mb->path, strerror(e));
		goto out;
	}
	/* Step 3. */
	mbox_spool(&mb->spool, 1);
	rc = mbox_journal_done(mb, 8, err, errlen);
	mbox_spool(&mb->spool, 0);
	goto out;

fail_write:
	/* Put the old bytes back now rather than at the next md_open. */
	e = errno;
	mbox_spool(&mb->spool, 1);
	if (mbox_copy(mb, jfd, MBOX_J_HDR, fd, w, l, NULL) == 0 &&
	    fsync(fd) == 0 && unlink(mb->jpath) == 0) {
		(void)fsync(mb->dirfd);
		md_err(err, errlen, "rewriting %s: %s; nothing deleted",
		    mb->path, strerror(e));
	} else {
		md_err(err, errlen, "rewriting %s: %s; the next session "
		    "restores it from %s", mb->path, strerror(e), mb->jpath);
	}
	mbox_spool(&mb->spool, 0);
	goto out;
fail_before:
	e = errno;
	md_err(err, errlen, "%s: %s; nothing deleted", mb->path,
	    strerror(e));
out:
	if (jfd != -1)
		(void)close(jfd);
	mbox_unlock(mb, &fd);
	return rc;
}

/* The commit, in the mbox's directory (mbox_enter). */
static int
mbox_commit(struct maildrop *md, const unsigned char *del, char *err,
    size_t errlen)
{
	struct mbox *mb = md->be;
	int cwd, rc;

	if (!mb->exists)
		return MD_OK;
	if ((cwd = mbox_enter(mb, err, errlen)) == -2)
		return MD_TEMP;
	rc = mbox_commit_in(md, del, err, errlen);
	mbox_leave(cwd);
	return rc;
}

static void
mbox_free(struct maildrop *md)
{
	struct mbox *mb = md->be;
	char err[128];
	int cwd;

	if (mb == NULL)
		return;
	if (mb->dl.fd != -1) {
		/* Relative to the mbox's directory; only ours is removed. */
		cwd = mbox_enter(mb, err, sizeof(err));
		mbox_spool(&mb->spool, 1);
		(void)dotlock_release(&mb->dl);
		mbox_spool(&mb->spool, 0);
		mbox_leave(cwd);
	}
	if (mb->dirfd != -1)
		(void)close(mb->dirfd);
	free(mb->msgs);
	free(mb->buf);
	free(mb->path);
	free(mb->name);
	free(mb->jpath);
	free(mb->jtmp);
	free(mb);
	md->be = NULL;
}

const struct md_backend md_mbox = {
	"mbox",
	mbox_open,
	mbox_msg_fd,
	mbox_commit,
	mbox_free
};
