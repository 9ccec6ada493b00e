/* SPDX-License-Identifier: MIT */
/*
 * kpopd/mbox.c: the mbox backend of maildrop.h (md_mbox).
 *
 * Locking.  kpopd holds its own session lock (md-lock.c) for the whole
 * session, but the locks mail delivery agents honour (mbox-lock.c) only
 * while it reads the snapshot and while md_commit() rewrites the file
 * (mbox-commit.c), so procmail, Postfix local and Dovecot LDA deliver
 * during a session.
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
#include <strings.h>
#include <unistd.h>

#include "common/dotlock.h"
#include "common/limits.h"
#include "common/pop3.h"
#include "common/util.h"
#include "kpopd/mbox-int.h"

/* Characters of SHA-256 hex used for a UIDL. */
#define MBOX_UIDL_HEX	32

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
	struct mbox_msg *m;
	struct md_msg *mm;
	char hex[2 * MD_HASH_LEN + 1];

	/* Before the first message the tables may not exist (NULL). */
	if (!ps->in_msg)
		return 0;
	m = &ps->mb->msgs[ps->mb->n];
	mm = &ps->md->msgs[ps->mb->n];
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
 * md->msgs.  Returns KP_OK or a status with err set.
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
	int r, e, empty, rc = KP_TEMP;

	memset(&ps, 0, sizeof(ps));
	ps.mb = mb;
	ps.md = md;
	mb->snap_end = size;
	if (md_lr_init(&lr, fd, 0, size) == -1) {
		util_snprintf(err, errlen, "out of memory");
		return KP_TEMP;
	}
	if (md_hash_init(&ps.h) == -1) {
		util_snprintf(err, errlen, "out of memory");
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
				util_snprintf(err, errlen, "%s: not an mbox "
				    "(no From_ line at the start)", mb->path);
				rc = KP_PERM;
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
		util_snprintf(err, errlen, "read %s: %s", mb->path,
		    strerror(e));
		goto out;
	}
	if (lr.shortread) {
		util_snprintf(err, errlen, "%s shrank while locked", mb->path);
		goto out;
	}
	if (mbox_finish(&ps, mb->snap_end) == -1)
		goto nomem;
	md->count = mb->n;
	rc = KP_OK;
	goto out;
nomem:
	util_snprintf(err, errlen, "out of memory");
out:
	md_hash_free(&ps.h);
	md_lr_free(&lr);
	return rc;
}

/* ---- the backend ---- */

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
		util_snprintf(err, errlen, "out of memory");
		return KP_TEMP;
	}
	md->be = mb;
	dotlock_init(&mb->dl);
	mb->dirfd = -1;
	mb->lock_timeout = opts->lock_timeout;
	mb->spool = opts->spool;
	mb->opts = *opts;
	if ((rc = md_path_resolve(path, opts, &mb->dirfd, &name, err,
	    errlen)) != KP_OK)
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
			util_snprintf(err, errlen, "%s: a symbolic link; "
			    "refused", path);
			return KP_PERM;
		}
		if ((rc = md_path_check(&st, MD_K_FILE, opts, path, err,
		    errlen)) != KP_OK)
			return rc;
	} else if (errno == ENOENT && !opts->create) {
		util_snprintf(err, errlen, "%s: no such maildrop", path);
		return KP_PERM;
	}
	mbox_lock_spool(&mb->spool, 1);
	rc = md_lock_session(md, mb->dirfd, buf, shown, opts, err, errlen);
	mbox_lock_spool(&mb->spool, 0);
	if (rc != KP_OK)
		return rc;
	if ((cwd = mbox_lock_enter(mb, err, errlen)) == -2)
		return KP_TEMP;
	if ((rc = mbox_lock_take(mb, &fd, err, errlen)) != KP_OK)
		goto leave;
	mbox_lock_spool(&mb->spool, 1);
	rc = mbox_commit_recover(mb, fd, err, errlen);
	mbox_lock_spool(&mb->spool, 0);
	if (rc != KP_OK)
		goto out;
	if (fd == -1) {
		/* No mbox (removed since the look above): empty, or none. */
		if (!opts->create)
			util_snprintf(err, errlen, "%s: no such maildrop",
			    path);
		rc = opts->create ? KP_OK : KP_PERM;
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		e = errno;
		util_snprintf(err, errlen, "%s: %s", path, strerror(e));
		rc = KP_TEMP;
		goto out;
	}
	mb->exists = 1;
	mb->dev = st.st_dev;
	mb->ino = st.st_ino;
	rc = mbox_parse(mb, md, fd, st.st_size, err, errlen);
out:
	mbox_lock_drop(mb, &fd);
leave:
	mbox_lock_leave(cwd);
	return rc;
nomem:
	util_snprintf(err, errlen, "out of memory (or path too long)");
	return KP_TEMP;
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
		util_snprintf(err, errlen, "%s: %s", mb->path, strerror(e));
		return e == ENOENT ? KP_GONE : KP_TEMP;
	}
	if (fstat(fd, &st) == -1 || st.st_dev != mb->dev ||
	    st.st_ino != mb->ino || st.st_size < m->msg_off + m->msg_len) {
		(void)close(fd);
		util_snprintf(err, errlen, "%s was replaced or truncated by "
		    "another program", mb->path);
		return KP_GONE;
	}
	*fdp = fd;
	*offp = m->msg_off;
	*lenp = m->msg_len;
	return KP_OK;
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
		cwd = mbox_lock_enter(mb, err, sizeof(err));
		mbox_lock_spool(&mb->spool, 1);
		(void)dotlock_release(&mb->dl);
		mbox_lock_spool(&mb->spool, 0);
		mbox_lock_leave(cwd);
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

