/* SPDX-License-Identifier: MIT */
/*
 * kpop/dlv-mbox.c: delivery to an mbox (deliver.h, dlv-int.h), and the
 * checks a rerun after a crash makes there.
 *
 * The message is quoted (mboxrd: one more '>' before any line matching
 * ^>*From ) into an unlinked spool file while it arrives, so the mbox
 * is locked only for the append, and the length and SHA-256 of what
 * will be appended are known before the first byte is: the caller
 * journals them, and a rerun can tell a whole append (dlv_mbox_check)
 * from a torn one and remove the latter (dlv_mbox_unappend).  Locks as
 * Debian's MDAs take them (Policy 11.6): the dotlock <mbox>.lock
 * (common/dotlock.c: linked into place whole, refreshed during the
 * append, stale ones broken), then an fcntl write lock; both tried
 * without blocking until the deadline, so the order cannot deadlock.  A
 * file that does not end in an empty line gets one before our From_
 * line, outside the journalled range (parsers such as kpopd's want a
 * From_ line at the start of the file or after an empty line).
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

#include <openssl/evp.h>

#include "common/dotlock.h"
#include "common/util.h"
#include "kpop/deliver.h"
#include "kpop/dlv-int.h"

static const char dlv_from[] = "From ";
#define DLV_FROM_LEN	(sizeof(dlv_from) - 1)

/* ---- mboxrd quoting ---- */

/*
 * Emit what a line start held back: the '>'s and the part of "From "
 * matched, with one more '>' first if quote.  The line goes on as plain.
 */
static void
dlv_quote_release(struct dlv *h, int quote)
{
	char gts[64];
	size_t k;

	memset(gts, '>', sizeof(gts));
	if (quote)
		dlv_io_put(h, ">", 1);
	while (h->gts > 0) {
		k = h->gts < sizeof(gts) ? (size_t)h->gts : sizeof(gts);
		dlv_io_put(h, gts, k);
		h->gts -= k;
	}
	dlv_io_put(h, dlv_from, h->from);
	h->from = 0;
	h->bol = 0;
}

/*
 * Quote n bytes into the spool.  A line start is held back only while it
 * can still become ">*From "; the rest of a line is copied in one piece.
 */
static void
dlv_quote(struct dlv *h, const unsigned char *p, size_t n)
{
	const unsigned char *nl;
	size_t k;

	while (n > 0 && h->status == KP_OK) {
		if (!h->bol) {
			nl = memchr(p, '\n', n);
			k = nl == NULL ? n : (size_t)(nl - p) + 1;
			dlv_io_put(h, p, k);
			h->bol = nl != NULL;
			p += k;
			n -= k;
		} else if (h->from == 0 && *p == '>') {
			h->gts++;
			p++;
			n--;
		} else if (*p == (unsigned char)dlv_from[h->from]) {
			p++;
			n--;
			if (++h->from == DLV_FROM_LEN)
				dlv_quote_release(h, 1);
		} else
			dlv_quote_release(h, 0);
	}
}

/* ---- mbox locks ---- */

/*
 * A lock is busy: sleep a poll interval and return KP_OK to try again,
 * or KP_TEMP with err set once the deadline has passed.
 */
static int
dlv_lock_wait(const char *path, const char *what, long long deadline,
    char *err, size_t errlen)
{
	if (util_now_ms() >= deadline) {
		(void)util_snprintf(err, errlen,
		    "mbox %s is locked by another program "
		    "(%s); gave up waiting", path, what);
		return KP_TEMP;
	}
	util_sleep_ms(DLV_LOCK_POLL_MS);
	return KP_OK;
}

/* Release the locks: the fcntl one by closing, the dotlock if ours. */
static void
dlv_unlock(struct dlv_lock *lk)
{
	if (lk->fd != -1) {
		(void)close(lk->fd);
		lk->fd = -1;
	}
	(void)dotlock_release(&lk->dl);
}

/*
 * Take both locks on the mbox at path (created mode 0600 if missing) and
 * open it read-write in lk->fd, waiting up to wait_s seconds in all.  On
 * failure nothing is held.
 */
static int
dlv_lock(struct dlv_lock *lk, const char *path, unsigned int wait_s,
    char *err, size_t errlen)
{
	struct stat st;
	long long deadline;
	size_t n;
	int e, rc, busy;

	lk->fd = -1;
	dotlock_init(&lk->dl);
	deadline = util_now_ms() + (long long)(wait_s == 0 ? DLV_LOCK_WAIT :
	    wait_s) * 1000;
	if ((rc = dotlock_take(&lk->dl, path, "kpop", deadline, err,
	    errlen)) != KP_OK) {
		n = strlen(err);
		if (rc == KP_PERM && n < errlen)
			(void)util_snprintf(err + n, errlen - n,
			    " (no write access to the mbox's directory: "
			    "deliver through an MDA instead)");
		return rc == KP_INUSE ? KP_TEMP :
		    dlv_io_status(lk->dl.errnum);
	}
	if ((lk->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY,
	    0600)) == -1 || fstat(lk->fd, &st) == -1) {
		e = errno;
		(void)util_snprintf(err, errlen,
		    "mbox %s: %s", path, strerror(e));
		rc = dlv_io_status(e);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)util_snprintf(err, errlen,
		    "mbox %s: not a regular file", path);
		rc = KP_PERM;
		goto fail;
	}
	while ((busy = util_trylock(lk->fd)) != 0) {
		if (busy == -1) {
			e = errno;
			(void)util_snprintf(err, errlen,
			    "mbox %s: fcntl lock: %s", path,
			    strerror(e));
			rc = KP_TEMP;
			goto fail;
		}
		if ((rc = dlv_lock_wait(path, "fcntl lock", deadline, err,
		    errlen)) != KP_OK)
			goto fail;
	}
	return KP_OK;
fail:
	dlv_unlock(lk);
	return rc;
}

/* ---- mbox ---- */

/*
 * The From_ line: "From SENDER DATE" in asctime(3) form, local time, in
 * English whatever the locale.  A sender that is empty, "<>", too long,
 * or has blanks or controls becomes MAILER-DAEMON; <angle brackets> go.
 */
static int
dlv_from_line(struct dlv *h, const char *sender)
{
	static const char *const wday[] = { "Sun", "Mon", "Tue", "Wed",
	    "Thu", "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char line[DLV_SENDER_MAX + 64], who[DLV_SENDER_MAX];
	struct tm tm;
	size_t n, i;

	n = sender == NULL ? 0 : strlen(sender);
	if (n >= 2 && sender[0] == '<' && sender[n - 1] == '>') {
		sender++;
		n -= 2;
	}
	for (i = 0; i < n && sender[i] > ' ' && sender[i] < 0x7f; i++)
		continue;
	if (n == 0 || i < n || n >= sizeof(who))
		(void)util_strlcpy(who, "MAILER-DAEMON", sizeof(who));
	else {
		memcpy(who, sender, n);
		who[n] = '\0';
	}
	if (localtime_r(&h->when, &tm) == NULL ||
	    util_snprintf(line, sizeof(line), "From %s %s %s %2d "
	    "%02d:%02d:%02d %d\n", who, wday[tm.tm_wday % 7],
	    mon[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, tm.tm_year + 1900) == -1)
		return dlv_io_fail(h, KP_PERM, "mbox %s: cannot format the "
		    "From_ line", h->w.arg);
	dlv_io_put(h, line, strlen(line));
	return h->status;
}

/* Open the spool (unlinked, in $TMPDIR or /tmp) and start the message. */
static int
dlv_mbox_open(struct dlv *h, const struct dlv_info *info)
{
	char path[PATH_MAX];
	const char *dir = getenv("TMPDIR");
	int e;

	h->lk.fd = -1;
	dotlock_init(&h->lk.dl);
	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	if (util_snprintf(path, sizeof(path), "%s/kpop-spool.XXXXXX",
	    dir) == -1)
		return dlv_io_fail(h, KP_PERM, "spool in %s: path too long",
		    dir);
	if ((h->fd = mkostemp(path, O_CLOEXEC)) == -1) {
		e = errno;
		return dlv_io_fail(h, dlv_io_status(e), "spool %s: %s", path,
		    strerror(e));
	}
	(void)unlink(path);
	if ((h->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(h->sha, EVP_sha256(), NULL) != 1)
		return dlv_io_fail(h, KP_TEMP, "SHA-256 init failed "
		    "(OpenSSL)");
	h->bol = 1;
	return dlv_from_line(h, info->sender);
}

/*
 * Newlines to add before our From_ line so that it follows an empty line
 * (or starts the file): 0, 1 or 2, from the mbox's last two bytes.
 */
static int
dlv_mbox_fix(struct dlv *h)
{
	unsigned char end[2];
	off_t at;
	ssize_t r;
	int e;

	h->fix = 0;
	if (h->mbox_size == 0)
		return KP_OK;
	at = h->mbox_size >= 2 ? h->mbox_size - 2 : 0;
	if ((r = util_pread_full(h->lk.fd, end, (size_t)(h->mbox_size - at),
	    at)) != h->mbox_size - at) {
		e = r == -1 ? errno : EIO;
		return dlv_io_fail(h, KP_TEMP, "mbox %s: read: %s", h->w.arg,
		    strerror(e));
	}
	if (end[r - 1] != '\n')
		h->fix = 2;
	else if (r == 2 && end[0] != '\n')
		h->fix = 1;
	return KP_OK;
}

/* End the quoted message, finish the digest, take the locks, place it. */
static int
dlv_mbox_prepare(struct dlv *h)
{
	char err[DLV_ERR_MAX];
	struct stat st;
	unsigned int len = 0;
	int rc, e;

	if (h->bol && (h->gts > 0 || h->from > 0))
		dlv_quote_release(h, 0);
	if (h->w.size > 0 && h->last != '\n')
		dlv_io_put(h, "\n", 1);
	dlv_io_put(h, "\n", 1);
	if (dlv_io_flush(h) != KP_OK)
		return h->status;
	if (EVP_DigestFinal_ex(h->sha, h->w.sha256, &len) != 1 ||
	    len != DLV_SHA256_LEN)
		return dlv_io_fail(h, KP_TEMP, "SHA-256 failed (OpenSSL)");
	if ((rc = dlv_lock(&h->lk, h->w.arg, h->lock_wait, err,
	    sizeof(err))) != KP_OK)
		return dlv_io_fail(h, rc, "%s", err);
	if (fstat(h->lk.fd, &st) == -1) {
		e = errno;
		return dlv_io_fail(h, KP_TEMP, "mbox %s: %s", h->w.arg,
		    strerror(e));
	}
	h->mbox_size = st.st_size;
	if (dlv_mbox_fix(h) != KP_OK)
		return h->status;
	h->w.placed = 1;
	h->w.offset = (unsigned long long)h->mbox_size + h->fix;
	h->w.len = h->out;
	return KP_OK;
}

/* Copy the spool to the mbox at its place, refreshing the dotlock. */
static int
dlv_mbox_copy(struct dlv *h)
{
	off_t in = 0, out = (off_t)h->w.offset;
	ssize_t r;
	size_t want;
	int e;

	if (h->fix > 0 && util_write_all(h->lk.fd, "\n\n", h->fix,
	    h->mbox_size) == -1)
		goto fail;
	while ((unsigned long long)in < h->w.len) {
		want = h->w.len - (unsigned long long)in < DLV_BUF_SIZE ?
		    (size_t)(h->w.len - (unsigned long long)in) : DLV_BUF_SIZE;
		if ((r = util_pread_full(h->fd, h->buf, want, in)) !=
		    (ssize_t)want) {
			e = r == -1 ? errno : EIO;
			return dlv_io_fail(h, KP_TEMP, "mbox spool: read: %s",
			    strerror(e));
		}
		if (util_write_all(h->lk.fd, h->buf, want, out) == -1)
			goto fail;
		in += r;
		out += r;
		(void)dotlock_refresh(&h->lk.dl);
	}
	if (dlv_io_fsync(h->lk.fd, "mbox") == -1)
		goto fail;
	return KP_OK;
fail:
	e = errno;
	return dlv_io_fail(h, dlv_io_status(e), "mbox %s: write: %s",
	    h->w.arg, strerror(e));
}

/*
 * Append; on any failure cut the mbox back to its size before us, so no
 * half message is left.  A truncation that fails too is reported.
 */
static int
dlv_mbox_commit(struct dlv *h)
{
	int e;

	if (dlv_mbox_copy(h) == KP_OK)
		return KP_OK;
	if (ftruncate(h->lk.fd, h->mbox_size) == -1 ||
	    dlv_io_fsync(h->lk.fd, "mbox") == -1) {
		e = errno;
		(void)util_snprintf(h->err + strlen(h->err),
		    sizeof(h->err) - strlen(h->err), "; and truncating it "
		    "back to %lld bytes failed: %s", (long long)h->mbox_size,
		    strerror(e));
	}
	return h->status;
}

/* Commit what dlv_mbox_prepare placed, if it could. */
static int
dlv_mbox_done(struct dlv *h, int status)
{
	return status == KP_OK ? dlv_mbox_commit(h) : status;
}

/* Release the locks: nothing was appended, or all of it. */
static void
dlv_mbox_release(struct dlv *h)
{
	dlv_unlock(&h->lk);
}

const struct dlv_ops dlv_mbox_ops = {
	.kind = DLV_MBOX,
	.label = "mbox spool",
	.open = dlv_mbox_open,
	.write = dlv_quote,
	.prepare = dlv_mbox_prepare,
	.commit = dlv_mbox_done,
	.release = dlv_mbox_release,
};

/* ---- checks after a crash ---- */

/* SHA-256 of [off, off + len) of fd into md.  0, or -1 (err set). */
static int
dlv_hash_range(int fd, off_t off, unsigned long long len, unsigned char *md,
    const char *path, char *err, size_t errlen)
{
	unsigned char *buf;
	EVP_MD_CTX *ctx;
	unsigned int mdlen = 0;
	size_t want;
	ssize_t r = 0;
	int rc = -1;

	buf = malloc(DLV_BUF_SIZE);
	if ((ctx = EVP_MD_CTX_new()) == NULL || buf == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	while (len > 0) {
		want = len < DLV_BUF_SIZE ? (size_t)len : DLV_BUF_SIZE;
		r = util_pread_full(fd, buf, want, off);
		if (r != (ssize_t)want || EVP_DigestUpdate(ctx, buf, want) != 1)
			goto out;
		off += r;
		len -= want;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 &&
	    mdlen == DLV_SHA256_LEN)
		rc = 0;
out:
	if (rc == -1)
		(void)util_snprintf(err, errlen,
		    "mbox %s: read: %s", path, r == -1 ?
		    strerror(errno) : "short read or SHA-256 failure");
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

/*
 * Whether [off, end) starts as our appends do: with "From ", or with as
 * much of it as a torn append wrote.
 */
static int
dlv_starts_ours(int fd, off_t off, off_t end)
{
	unsigned char head[DLV_FROM_LEN];
	size_t n = end - off < (off_t)DLV_FROM_LEN ? (size_t)(end - off) :
	    DLV_FROM_LEN;

	return n > 0 && util_pread_full(fd, head, n, off) == (ssize_t)n &&
	    memcmp(head, dlv_from, n) == 0;
}

/* Whether offset + len fits an off_t (a journal may be corrupt). */
static int
dlv_range_ok(unsigned long long offset, unsigned long long len)
{
	const unsigned long long max = (unsigned long long)INT64_MAX;

	return sizeof(off_t) == 8 && offset <= max && len <= max - offset;
}

int
dlv_mbox_check(const char *path, unsigned long long offset,
    unsigned long long len, const unsigned char *sha256, char *err,
    size_t errlen)
{
	unsigned char md[DLV_SHA256_LEN];
	struct stat st;
	unsigned long long size;
	int fd, e, rc = DLV_ABSENT;

	if (!dlv_range_ok(offset, len)) {
		(void)util_snprintf(err, errlen, "mbox %s: bad range", path);
		return KP_PERM;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, &st) == -1) {
		if ((e = errno) == ENOENT)
			return DLV_ABSENT;
		(void)util_snprintf(err, errlen,
		    "mbox %s: %s", path, strerror(e));
		if (fd != -1)
			(void)close(fd);
		return dlv_io_status(e);
	}
	size = (unsigned long long)st.st_size;
	if (size > offset && size < offset + len) {
		if (dlv_starts_ours(fd, (off_t)offset, (off_t)size))
			rc = DLV_PARTIAL;
	} else if (size >= offset + len && len > 0) {
		if (dlv_hash_range(fd, (off_t)offset, len, md, path, err,
		    errlen) == -1)
			rc = KP_TEMP;
		else if (memcmp(md, sha256, sizeof(md)) == 0)
			rc = DLV_PRESENT;
	}
	(void)close(fd);
	return rc;
}

/*
 * Whether [off, end) of fd is one message of ours: it starts as ours do
 * and has no "\nFrom " after that (our quoting leaves none inside a
 * message).  1 yes, 0 no, -1 read error.
 */
static int
dlv_only_ours(int fd, off_t off, off_t end)
{
	static const char pat[] = "\nFrom ";
	unsigned char buf[8192];
	size_t k = 0, i;
	ssize_t r;

	if (!dlv_starts_ours(fd, off, end))
		return 0;
	for (off += DLV_FROM_LEN; off < end; off += r) {
		r = util_pread_full(fd, buf, end - off < (off_t)sizeof(buf) ?
		    (size_t)(end - off) : sizeof(buf), off);
		if (r <= 0)
			return -1;
		for (i = 0; i < (size_t)r; i++) {
			k = buf[i] == (unsigned char)pat[k] ? k + 1 :
			    buf[i] == '\n';
			if (k == sizeof(pat) - 1)
				return 0;
		}
	}
	return 1;
}

int
dlv_mbox_unappend(const char *path, unsigned long long offset,
    unsigned long long len, unsigned int lock_wait, char *err,
    size_t errlen)
{
	struct dlv_lock lk;
	struct stat st;
	int rc, e, ours = 0;

	if (!dlv_range_ok(offset, len)) {
		(void)util_snprintf(err, errlen, "mbox %s: bad range", path);
		return KP_PERM;
	}
	if ((rc = dlv_lock(&lk, path, lock_wait, err, errlen)) != KP_OK)
		return rc;
	if (fstat(lk.fd, &st) == -1)
		goto fail;
	if ((unsigned long long)st.st_size <= offset)
		goto out;
	if ((unsigned long long)st.st_size >= offset + len ||
	    (ours = dlv_only_ours(lk.fd, (off_t)offset, st.st_size)) == 0) {
		(void)util_snprintf(err, errlen,
		    "mbox %s: other mail follows the "
		    "interrupted delivery at offset %llu; left alone", path,
		    offset);
		rc = KP_PERM;
		goto out;
	}
	if (ours == -1 || ftruncate(lk.fd, (off_t)offset) == -1 ||
	    dlv_io_fsync(lk.fd, "mbox") == -1)
		goto fail;
out:
	dlv_unlock(&lk);
	return rc;
fail:
	e = errno;
	(void)util_snprintf(err, errlen, "mbox %s: %s", path, strerror(e));
	dlv_unlock(&lk);
	return KP_TEMP;
}
