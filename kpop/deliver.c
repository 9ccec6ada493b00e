/*
 * kpop/deliver.c: delivery of one message to a Maildir, an mbox, an MDA
 * or standard output (deliver.h), and the checks a rerun after a crash
 * makes.
 *
 * Maildir: the message goes to tmp/<time>.K<token>.<host>, is fsynced
 * and closed, then linked (renamed where the file system has no hard
 * links) to new/<same>,S=<size>; new/ is fsynced before tmp/ loses its
 * name.  The token makes the name findable after a crash.
 *
 * mbox: the message is quoted (mboxrd: one more '>' before any line
 * matching ^>*From ) into an unlinked spool file while it arrives, so
 * the mbox is locked only for the append, and the length and SHA-256 of
 * what will be appended are known before the first byte is: the caller
 * journals them, and a rerun can tell a whole append (dlv_mbox_check)
 * from a torn one and remove the latter (dlv_mbox_unappend).  Locks as
 * Debian's MDAs take them (Policy 11.6): the dotlock <mbox>.lock
 * (common/dotlock.c: linked into place whole, refreshed during the
 * append, stale ones broken), then an fcntl write lock; both tried
 * without blocking until the deadline, so the order cannot deadlock.  A
 * file that does not end in an empty line gets one before our From_
 * line, outside the journalled range (parsers such as kpopd's want a
 * From_ line at the start of the file or after an empty line).
 *
 * MDA: /bin/sh -c COMMAND in its own process group, reading a pipe.
 * SIGPIPE is blocked around our writes and a pending one consumed, so a
 * vanished reader is an EPIPE error, not the end of kpop.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
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

extern char **environ;

/*
 * Room for the host part of a Maildir name, escaped: a 255-byte name
 * must still hold the time, the token and ",S=<size>".
 */
#define DLV_HOST_PART_MAX	100

#ifdef KPOP_TEST_HOOKS
int (*dlv_test_fsync)(const char *what);
#endif

/* The mbox locks while held. */
struct dlv_lock {
	struct dotlock	 dl;		/* <mbox>.lock */
	int		 fd;		/* the mbox, fcntl-locked, or -1 */
};

struct dlv {
	enum dlv_kind	 kind;
	int		 status;	/* DLV_OK, or the first failure */
	int		 prepared;
	int		 fd;		/* tmp file, spool, MDA pipe, stdout */
	pid_t		 pid;		/* the MDA until reaped, or -1 */
	time_t		 when;
	unsigned int	 lock_wait;
	struct dlv_where w;
	char		 err[DLV_ERR_MAX];
	unsigned char	*buf;		/* DLV_BUF_SIZE of pending output */
	size_t		 blen;
	unsigned long long out;		/* bytes written to fd */
	int		 last;		/* the last byte fed, or -1 */
	/* mboxrd quoting: the state of the current line's start */
	int		 bol;		/* still at the start of a line */
	unsigned long long gts;		/* '>'s held back there */
	size_t		 from;		/* bytes of "From " held after them */
	EVP_MD_CTX	*sha;		/* mbox: over the spool */
	struct dlv_lock	 lk;
	off_t		 mbox_size;	/* mbox: its size when locked */
	size_t		 fix;		/* mbox: newlines to add before us */
	char		 base[DLV_NAME_MAX];	/* Maildir: name less ,S= */
	char		 tmp[PATH_MAX];		/* Maildir: the tmp/ file */
};

static const char dlv_from[] = "From ";
#define DLV_FROM_LEN	(sizeof(dlv_from) - 1)

/* ---- errors ---- */


/*
 * DLV_PERM for errno values retrying will not fix, else DLV_TEMP: a full
 * disk, a quota or an I/O error may pass.
 */
static int
dlv_errno_status(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
	case ENOENT:
	case ENOTDIR:
	case EISDIR:
	case ELOOP:
	case ENAMETOOLONG:
	case EROFS:
	case EEXIST:
		return DLV_PERM;
	default:
		return DLV_TEMP;
	}
}

static int dlv_fail(struct dlv *, int, const char *, ...) KP_PRINTF(3, 4);

/* Record the handle's first failure; returns the status it holds. */
static int
dlv_fail(struct dlv *h, int status, const char *fmt, ...)
{
	va_list ap;

	if (h->status != DLV_OK)
		return h->status;
	h->status = status;
	va_start(ap, fmt);
	if (vsnprintf(h->err, sizeof(h->err), fmt, ap) < 0)
		h->err[0] = '\0';
	va_end(ap);
	return status;
}

/* ---- small I/O helpers ---- */

/*
 * util_write_all() to a pipe or terminal with SIGPIPE blocked; a SIGPIPE
 * our write raised is consumed before the mask is restored, so only the
 * EPIPE is left.  One already pending is left for its owner.
 */
static int
dlv_write_pipe(int fd, const void *buf, size_t n)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t pipe_set, old, pending;
	int rc, e, was_pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	(void)sigprocmask(SIG_BLOCK, &pipe_set, &old);
	was_pending = sigpending(&pending) == 0 &&
	    sigismember(&pending, SIGPIPE) == 1;
	rc = util_write_all(fd, buf, n, -1);
	e = errno;
	if (rc == -1 && e == EPIPE && !was_pending)
		(void)sigtimedwait(&pipe_set, NULL, &zero);
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return rc;
}

/* fsync fd; what names it for the test hook.  0 or -1 (errno). */
static int
dlv_fsync(int fd, const char *what)
{
#ifdef KPOP_TEST_HOOKS
	int e;

	if (dlv_test_fsync != NULL && (e = dlv_test_fsync(what)) != 0) {
		errno = e;
		return -1;
	}
#else
	(void)what;
#endif
	return fsync(fd);
}

/* fsync the directory at path.  0 or -1 (errno). */
static int
dlv_fsync_dir(const char *path)
{
#ifdef KPOP_TEST_HOOKS
	int e;

	if (dlv_test_fsync != NULL && (e = dlv_test_fsync("dir")) != 0) {
		errno = e;
		return -1;
	}
#endif
	return util_fsync_dir(path);
}



/* ---- the output buffer ---- */

/* A short label of where output goes, for messages. */
static const char *
dlv_label(const struct dlv *h)
{
	switch (h->kind) {
	case DLV_MAILDIR:
		return h->tmp;
	case DLV_MBOX:
		return "mbox spool";
	case DLV_MDA:
		return "MDA pipe";
	default:
		return "standard output";
	}
}

/* Write out the pending output (and hash it, for an mbox spool). */
static int
dlv_flush(struct dlv *h)
{
	int rc, e;

	if (h->blen == 0 || h->status != DLV_OK)
		return h->status;
	if (h->sha != NULL &&
	    EVP_DigestUpdate(h->sha, h->buf, h->blen) != 1)
		return dlv_fail(h, DLV_TEMP, "SHA-256 failed (OpenSSL)");
	if (h->kind == DLV_MDA || h->kind == DLV_STDOUT)
		rc = dlv_write_pipe(h->fd, h->buf, h->blen);
	else
		rc = util_write_all(h->fd, h->buf, h->blen, -1);
	if (rc == -1) {
		e = errno;
		return dlv_fail(h, dlv_errno_status(e), "%s: write: %s",
		    dlv_label(h), strerror(e));
	}
	h->out += h->blen;
	h->blen = 0;
	return DLV_OK;
}

/* Queue n bytes of output. */
static void
dlv_put(struct dlv *h, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t k;

	while (n > 0 && h->status == DLV_OK) {
		if (h->blen == DLV_BUF_SIZE && dlv_flush(h) != DLV_OK)
			return;
		k = DLV_BUF_SIZE - h->blen;
		if (k > n)
			k = n;
		memcpy(h->buf + h->blen, s, k);
		h->blen += k;
		s += k;
		n -= k;
	}
}

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
		dlv_put(h, ">", 1);
	while (h->gts > 0) {
		k = h->gts < sizeof(gts) ? (size_t)h->gts : sizeof(gts);
		dlv_put(h, gts, k);
		h->gts -= k;
	}
	dlv_put(h, dlv_from, h->from);
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

	while (n > 0 && h->status == DLV_OK) {
		if (!h->bol) {
			nl = memchr(p, '\n', n);
			k = nl == NULL ? n : (size_t)(nl - p) + 1;
			dlv_put(h, p, k);
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
 * A lock is busy: sleep a poll interval and return DLV_OK to try again,
 * or DLV_TEMP with err set once the deadline has passed.
 */
static int
dlv_lock_wait(const char *path, const char *what, long long deadline,
    char *err, size_t errlen)
{
	if (util_now_ms() >= deadline) {
		(void)util_snprintf(err, errlen,
		    "mbox %s is locked by another program "
		    "(%s); gave up waiting", path, what);
		return DLV_TEMP;
	}
	util_sleep_ms(DLV_LOCK_POLL_MS);
	return DLV_OK;
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
	    errlen)) != DOTLOCK_OK) {
		n = strlen(err);
		if (rc == DOTLOCK_DENIED && n < errlen)
			(void)util_snprintf(err + n, errlen - n,
			    " (no write access to the mbox's directory: "
			    "deliver through an MDA instead)");
		return rc == DOTLOCK_BUSY ? DLV_TEMP :
		    dlv_errno_status(lk->dl.errnum);
	}
	if ((lk->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY,
	    0600)) == -1 || fstat(lk->fd, &st) == -1) {
		e = errno;
		(void)util_snprintf(err, errlen,
		    "mbox %s: %s", path, strerror(e));
		rc = dlv_errno_status(e);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)util_snprintf(err, errlen,
		    "mbox %s: not a regular file", path);
		rc = DLV_PERM;
		goto fail;
	}
	while ((busy = util_trylock(lk->fd)) != 0) {
		if (busy == -1) {
			e = errno;
			(void)util_snprintf(err, errlen,
			    "mbox %s: fcntl lock: %s", path,
			    strerror(e));
			rc = DLV_TEMP;
			goto fail;
		}
		if ((rc = dlv_lock_wait(path, "fcntl lock", deadline, err,
		    errlen)) != DLV_OK)
			goto fail;
	}
	return DLV_OK;
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
		return dlv_fail(h, DLV_PERM, "mbox %s: cannot format the From_ "
		    "line", h->w.arg);
	dlv_put(h, line, strlen(line));
	return h->status;
}

/* Open the spool (unlinked, in $TMPDIR or /tmp) and start the message. */
static int
dlv_mbox_open(struct dlv *h, const struct dlv_info *info)
{
	char path[PATH_MAX];
	const char *dir = getenv("TMPDIR");
	int e;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	if (util_snprintf(path, sizeof(path), "%s/kpop-spool.XXXXXX",
	    dir) == -1)
		return dlv_fail(h, DLV_PERM, "spool in %s: path too long",
		    dir);
	if ((h->fd = mkostemp(path, O_CLOEXEC)) == -1) {
		e = errno;
		return dlv_fail(h, dlv_errno_status(e), "spool %s: %s", path,
		    strerror(e));
	}
	(void)unlink(path);
	if ((h->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(h->sha, EVP_sha256(), NULL) != 1)
		return dlv_fail(h, DLV_TEMP, "SHA-256 init failed (OpenSSL)");
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
		return DLV_OK;
	at = h->mbox_size >= 2 ? h->mbox_size - 2 : 0;
	if ((r = util_pread_full(h->lk.fd, end, (size_t)(h->mbox_size - at),
	    at)) != h->mbox_size - at) {
		e = r == -1 ? errno : EIO;
		return dlv_fail(h, DLV_TEMP, "mbox %s: read: %s", h->w.arg,
		    strerror(e));
	}
	if (end[r - 1] != '\n')
		h->fix = 2;
	else if (r == 2 && end[0] != '\n')
		h->fix = 1;
	return DLV_OK;
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
		dlv_put(h, "\n", 1);
	dlv_put(h, "\n", 1);
	if (dlv_flush(h) != DLV_OK)
		return h->status;
	if (EVP_DigestFinal_ex(h->sha, h->w.sha256, &len) != 1 ||
	    len != DLV_SHA256_LEN)
		return dlv_fail(h, DLV_TEMP, "SHA-256 failed (OpenSSL)");
	if ((rc = dlv_lock(&h->lk, h->w.arg, h->lock_wait, err,
	    sizeof(err))) != DLV_OK)
		return dlv_fail(h, rc, "%s", err);
	if (fstat(h->lk.fd, &st) == -1) {
		e = errno;
		return dlv_fail(h, DLV_TEMP, "mbox %s: %s", h->w.arg,
		    strerror(e));
	}
	h->mbox_size = st.st_size;
	if (dlv_mbox_fix(h) != DLV_OK)
		return h->status;
	h->w.placed = 1;
	h->w.offset = (unsigned long long)h->mbox_size + h->fix;
	h->w.len = h->out;
	return DLV_OK;
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
			return dlv_fail(h, DLV_TEMP, "mbox spool: read: %s",
			    strerror(e));
		}
		if (util_write_all(h->lk.fd, h->buf, want, out) == -1)
			goto fail;
		in += r;
		out += r;
		(void)dotlock_refresh(&h->lk.dl);
	}
	if (dlv_fsync(h->lk.fd, "mbox") == -1)
		goto fail;
	return DLV_OK;
fail:
	e = errno;
	return dlv_fail(h, dlv_errno_status(e), "mbox %s: write: %s",
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

	if (dlv_mbox_copy(h) == DLV_OK)
		return DLV_OK;
	if (ftruncate(h->lk.fd, h->mbox_size) == -1 ||
	    dlv_fsync(h->lk.fd, "mbox") == -1) {
		e = errno;
		(void)util_snprintf(h->err + strlen(h->err),
		    sizeof(h->err) - strlen(h->err), "; and truncating it "
		    "back to %lld bytes failed: %s", (long long)h->mbox_size,
		    strerror(e));
	}
	return h->status;
}

/* ---- Maildir ---- */

/* mkdir path mode 0700 if missing; *made says it was.  0 or -1. */
static int
dlv_mkdir(const char *path, int *made)
{
	struct stat st;

	if (mkdir(path, 0700) == 0) {
		*made = 1;
		return 0;
	}
	if (errno != EEXIST)
		return -1;
	if (stat(path, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* Make the Maildir and its tmp/, new/, cur/ as needed, durably. */
static int
dlv_maildir_dirs(struct dlv *h)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	char path[PATH_MAX];
	int made_top = 0, made = 0, e;
	size_t i;

	if (dlv_mkdir(h->w.arg, &made_top) == -1)
		goto fail_top;
	for (i = 0; i < KP_NELEM(sub); i++) {
		if (util_snprintf(path, sizeof(path), "%s/%s", h->w.arg,
		    sub[i]) == -1)
			return dlv_fail(h, DLV_PERM, "Maildir %s: path too "
			    "long", h->w.arg);
		if (dlv_mkdir(path, &made) == -1) {
			e = errno;
			return dlv_fail(h, dlv_errno_status(e), "Maildir "
			    "%s: %s", path, strerror(e));
		}
	}
	if ((made || made_top) && dlv_fsync_dir(h->w.arg) == -1)
		goto fail_top;
	/* A new Maildir must not vanish from its parent in a crash. */
	if (made_top && util_snprintf(path, sizeof(path), "%s/..",
	    h->w.arg) == 0 && dlv_fsync_dir(path) == -1)
		goto fail_top;
	return DLV_OK;
fail_top:
	e = errno;
	return dlv_fail(h, dlv_errno_status(e), "Maildir %s: %s", h->w.arg,
	    strerror(e));
}

/*
 * This host's name for Maildir file names, with '/', ':' and ',' (and
 * anything unprintable) as \ooo, as the Maildir specification and
 * Dovecot have it, cut to DLV_HOST_PART_MAX.
 */
static void
dlv_maildir_host(char *out, size_t outlen)
{
	char host[256];
	size_t i, o = 0;
	unsigned char c;

	if (gethostname(host, sizeof(host)) == -1)
		(void)util_strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	for (i = 0; host[i] != '\0' && o + 5 < outlen; i++) {
		c = (unsigned char)host[i];
		if (c == '/' || c == ':' || c == ',' || c <= ' ' || c >= 0x7f) {
			(void)util_snprintf(out + o, outlen - o, "\\%03o", c);
			o += 4;
		} else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

/* Make the directories and open tmp/<time>.K<token>.<host>. */
static int
dlv_maildir_open(struct dlv *h)
{
	char host[DLV_HOST_PART_MAX];
	int e, tries;

	if (h->w.token[0] == '\0')
		return dlv_fail(h, DLV_PERM, "Maildir %s: no delivery token",
		    h->w.arg);
	if (dlv_maildir_dirs(h) != DLV_OK)
		return h->status;
	dlv_maildir_host(host, sizeof(host));
	if (util_snprintf(h->base, sizeof(h->base), "%lld.K%s.%s",
	    (long long)h->when, h->w.token, host) == -1 ||
	    util_snprintf(h->tmp, sizeof(h->tmp), "%s/tmp/%s", h->w.arg,
	    h->base) == -1)
		return dlv_fail(h, DLV_PERM, "Maildir %s: path too long",
		    h->w.arg);
	/* The same token and second: our own leftover, so replace it. */
	for (tries = 0; tries < 2; tries++) {
		h->fd = open(h->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW | O_NOCTTY, 0600);
		if (h->fd != -1 || errno != EEXIST)
			break;
		(void)unlink(h->tmp);
	}
	if (h->fd == -1) {
		e = errno;
		h->tmp[0] = '\0';	/* not ours to remove */
		return dlv_fail(h, dlv_errno_status(e), "Maildir %s/tmp/%s: "
		    "%s", h->w.arg, h->base, strerror(e));
	}
	return DLV_OK;
}

/* Flush, fsync and close the tmp/ file; name the file for new/. */
static int
dlv_maildir_prepare(struct dlv *h)
{
	int fd, e;

	if (dlv_flush(h) != DLV_OK)
		return h->status;
	fd = h->fd;
	h->fd = -1;
	if (dlv_fsync(fd, "file") == -1) {
		e = errno;
		(void)close(fd);
		return dlv_fail(h, dlv_errno_status(e), "%s: fsync: %s",
		    h->tmp, strerror(e));
	}
	if (close(fd) == -1) {
		e = errno;
		return dlv_fail(h, dlv_errno_status(e), "%s: close: %s",
		    h->tmp, strerror(e));
	}
	if (util_snprintf(h->w.name, sizeof(h->w.name), "%s,S=%llu",
	    h->base, h->w.size) == -1)
		return dlv_fail(h, DLV_PERM, "Maildir %s: name too long",
		    h->w.arg);
	return DLV_OK;
}

/*
 * Link tmp/ into new/ (rename where there are no hard links), fsync
 * new/, then drop the tmp/ name.  A failed fsync of new/ takes the file
 * out again: the caller will deliver it again, so it must not stay.
 */
static int
dlv_maildir_commit(struct dlv *h)
{
	char path[PATH_MAX], dir[PATH_MAX];
	int e, linked = 1;

	if (util_snprintf(dir, sizeof(dir), "%s/new", h->w.arg) == -1 ||
	    util_snprintf(path, sizeof(path), "%s/%s", dir, h->w.name) == -1)
		return dlv_fail(h, DLV_PERM, "Maildir %s: path too long",
		    h->w.arg);
	if (link(h->tmp, path) == -1) {
		e = errno;
		if ((e != EPERM && e != ENOTSUP && e != ENOSYS) ||
		    rename(h->tmp, path) == -1) {
			e = errno;
			return dlv_fail(h, dlv_errno_status(e), "Maildir "
			    "%s: link: %s", path, strerror(e));
		}
		linked = 0;
	}
	if (dlv_fsync_dir(dir) == -1) {
		e = errno;
		(void)unlink(path);
		return dlv_fail(h, dlv_errno_status(e), "Maildir %s: fsync: "
		    "%s", dir, strerror(e));
	}
	if (linked)
		(void)unlink(h->tmp);
	h->tmp[0] = '\0';
	return DLV_OK;
}

/* ---- MDA ---- */

/*
 * The MDA's environment: ours less any KPOP_* variable we set, plus
 * those info gives.  Returns a vector whose strings from index *own on
 * are ours to free, or NULL (no memory).
 */
static char **
dlv_mda_env(const struct dlv_info *info, size_t *own)
{
	const char *const names[] = { "KPOP_UIDL", "KPOP_TOKEN",
	    "KPOP_SENDER", "KPOP_ACCOUNT" };
	const char *const vals[] = { info->uidl, info->token, info->sender,
	    info->account };
	char **env;
	size_t n = 0, i, j, o = 0, len;

	while (environ != NULL && environ[n] != NULL)
		n++;
	if ((env = calloc(n + KP_NELEM(names) + 1, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		for (j = 0; j < KP_NELEM(names); j++) {
			len = strlen(names[j]);
			if (strncmp(environ[i], names[j], len) == 0 &&
			    environ[i][len] == '=')
				break;
		}
		if (j == KP_NELEM(names))
			env[o++] = environ[i];
	}
	*own = o;
	for (j = 0; j < KP_NELEM(names); j++) {
		if (vals[j] == NULL)
			continue;
		len = strlen(names[j]) + strlen(vals[j]) + 2;
		if ((env[o] = malloc(len)) == NULL)
			break;
		(void)util_snprintf(env[o++], len, "%s=%s", names[j], vals[j]);
	}
	if (j < KP_NELEM(names)) {
		while (o > *own)
			free(env[--o]);
		free(env);
		return NULL;
	}
	return env;
}

static void
dlv_mda_env_free(char **env, size_t own)
{
	size_t i;

	for (i = own; env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

/*
 * The child: stdin from the pipe, stdout to our stderr, no other
 * descriptor of ours (the server connection is none of its business),
 * then the shell.
 */
static void __attribute__((__noreturn__))
dlv_mda_child(int in, const char *cmd, char **env)
{
	char *const argv[] = { (char *)(uintptr_t)"sh",
	    (char *)(uintptr_t)"-c", (char *)(uintptr_t)cmd, NULL };
	sigset_t none;

	(void)setpgid(0, 0);
	if ((in != STDIN_FILENO && dup2(in, STDIN_FILENO) == -1) ||
	    (in == STDIN_FILENO && fcntl(in, F_SETFD, 0) == -1) ||
	    dup2(STDERR_FILENO, STDOUT_FILENO) == -1)
		_exit(DLV_EX_TEMPFAIL);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || \
    (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	closefrom(STDERR_FILENO + 1);
#endif
	(void)signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	execve("/bin/sh", argv, env);
	_exit(127);
}

/* Start the command with a pipe on its standard input. */
static int
dlv_mda_open(struct dlv *h, const struct dlv_info *info)
{
	char **env;
	size_t own;
	int p[2], e;

	if ((env = dlv_mda_env(info, &own)) == NULL)
		return dlv_fail(h, DLV_TEMP, "mda %s: out of memory", h->w.arg);
	if (pipe2(p, O_CLOEXEC) == -1) {
		e = errno;
		dlv_mda_env_free(env, own);
		return dlv_fail(h, DLV_TEMP, "mda %s: pipe: %s", h->w.arg,
		    strerror(e));
	}
	if ((h->pid = fork()) == -1) {
		e = errno;
		(void)close(p[0]);
		(void)close(p[1]);
		dlv_mda_env_free(env, own);
		return dlv_fail(h, DLV_TEMP, "mda %s: fork: %s", h->w.arg,
		    strerror(e));
	}
	if (h->pid == 0)
		dlv_mda_child(p[0], h->w.arg, env);
	/* Both sides set the group, so a kill right away finds it. */
	(void)setpgid(h->pid, h->pid);
	(void)close(p[0]);
	h->fd = p[1];
	dlv_mda_env_free(env, own);
	return DLV_OK;
}

/* Wait for the MDA; its wait status, or -1 (errno). */
static int
dlv_mda_reap(struct dlv *h)
{
	int ws;

	while (waitpid(h->pid, &ws, 0) == -1)
		if (errno != EINTR)
			return -1;
	h->pid = -1;
	return ws;
}

/*
 * Close the MDA's input and judge its exit: 0 delivered (unless it
 * stopped reading early), EX_TEMPFAIL or a signal temporary, anything
 * else permanent.
 */
static int
dlv_mda_finish(struct dlv *h)
{
	char was[DLV_ERR_MAX];
	int ws, e, code;

	(void)util_strlcpy(was, h->err, sizeof(was));
	if (h->fd != -1)
		(void)close(h->fd);
	h->fd = -1;
	if ((ws = dlv_mda_reap(h)) == -1) {
		e = errno;
		h->status = DLV_OK;
		return dlv_fail(h, DLV_TEMP, "mda %s: wait: %s", h->w.arg,
		    strerror(e));
	}
	h->status = DLV_OK;
	if (WIFSIGNALED(ws))
		return dlv_fail(h, DLV_TEMP, "mda %s: killed by signal %d (%s)",
		    h->w.arg, WTERMSIG(ws), strsignal(WTERMSIG(ws)));
	code = WEXITSTATUS(ws);
	if (code == DLV_EX_TEMPFAIL)
		return dlv_fail(h, DLV_TEMP, "mda %s: exited with status %d "
		    "(temporary failure)", h->w.arg, code);
	if (code != 0)
		return dlv_fail(h, DLV_PERM, "mda %s: exited with status %d%s",
		    h->w.arg, code, code == 127 ? " (command not found?)" :
		    "");
	if (was[0] != '\0')
		return dlv_fail(h, DLV_TEMP, "mda %s: exited 0 without "
		    "reading the whole message (%s)", h->w.arg, was);
	return DLV_OK;
}

/* Kill the MDA's process group before it sees EOF, and reap it. */
static void
dlv_mda_kill(struct dlv *h)
{
	if (h->pid <= 0)
		return;
	if (kill(-h->pid, SIGKILL) == -1)
		(void)kill(h->pid, SIGKILL);
	(void)dlv_mda_reap(h);
}

/* ---- the interface ---- */

int
dlv_token_valid(const char *token)
{
	size_t i;

	for (i = 0; token[i] != '\0'; i++)
		if (!((token[i] >= '0' && token[i] <= '9') ||
		    (token[i] >= 'a' && token[i] <= 'z') ||
		    (token[i] >= 'A' && token[i] <= 'Z') ||
		    token[i] == '_' || token[i] == '-') || i >= DLV_TOKEN_MAX)
			return 0;
	return i > 0;
}

/* The kind a bare path names: a directory or trailing '/', a file. */
static int
dlv_parse_path(const char *spec, enum dlv_kind *kind, char *err,
    size_t errlen)
{
	struct stat st;
	size_t n = strlen(spec);

	if (n > 0 && spec[n - 1] == '/') {
		*kind = DLV_MAILDIR;
		return DLV_OK;
	}
	if (stat(spec, &st) == 0 && (S_ISDIR(st.st_mode) ||
	    S_ISREG(st.st_mode))) {
		*kind = S_ISDIR(st.st_mode) ? DLV_MAILDIR : DLV_MBOX;
		return DLV_OK;
	}
	(void)util_snprintf(err, errlen,
	    "target %s: not an existing Maildir or mbox; "
	    "say maildir:PATH, mbox:PATH or mda:COMMAND, or end a new "
	    "Maildir with /", spec);
	return DLV_PERM;
}

int
dlv_parse(const char *spec, struct dlv_target *t, char *err, size_t errlen)
{
	static const struct {
		const char	*prefix;
		enum dlv_kind	 kind;
	} pre[] = {
		{ "maildir:", DLV_MAILDIR },
		{ "mbox:", DLV_MBOX },
		{ "mda:", DLV_MDA },
	};
	const char *arg = spec;
	size_t i, n;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < KP_NELEM(pre); i++) {
		n = strlen(pre[i].prefix);
		if (strncmp(spec, pre[i].prefix, n) == 0) {
			t->kind = pre[i].kind;
			arg = spec + n;
			break;
		}
	}
	if (i == KP_NELEM(pre) && strcmp(spec, "-") == 0)
		t->kind = DLV_STDOUT;
	else if (i == KP_NELEM(pre) && *spec != '\0' &&
	    dlv_parse_path(spec, &t->kind, err, errlen) != DLV_OK)
		return DLV_PERM;
	if (*arg == '\0') {
		(void)util_snprintf(err, errlen, "target \"%s\": empty", spec);
		return DLV_PERM;
	}
	if (util_strlcpy(t->arg, arg, sizeof(t->arg)) == -1) {
		(void)util_snprintf(err, errlen,
		    "target %.64s...: too long", spec);
		return DLV_PERM;
	}
	return DLV_OK;
}

/* Free the handle, undoing whatever was not committed. */
static void
dlv_free(struct dlv *h)
{
	if (h->kind == DLV_MDA)
		dlv_mda_kill(h);
	if (h->fd != -1 && h->kind != DLV_STDOUT)
		(void)close(h->fd);
	if (h->kind == DLV_MAILDIR && h->tmp[0] != '\0')
		(void)unlink(h->tmp);
	if (h->kind == DLV_MBOX)
		dlv_unlock(&h->lk);
	EVP_MD_CTX_free(h->sha);
	free(h->buf);
	free(h);
}

int
dlv_open(const struct dlv_target *t, const struct dlv_info *info,
    struct dlv **hp, char *err, size_t errlen)
{
	struct dlv *h;
	int rc = DLV_OK;

	*hp = NULL;
	if (info->token != NULL && !dlv_token_valid(info->token)) {
		(void)util_snprintf(err, errlen, "bad delivery token");
		return DLV_PERM;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->buf = malloc(DLV_BUF_SIZE)) == NULL) {
		free(h);
		(void)util_snprintf(err, errlen, "out of memory");
		return DLV_TEMP;
	}
	h->kind = h->w.kind = t->kind;
	h->fd = h->pid = h->lk.fd = h->last = -1;
	dotlock_init(&h->lk.dl);
	h->when = info->when != 0 ? info->when : time(NULL);
	h->lock_wait = info->lock_wait;
	(void)util_strlcpy(h->w.arg, t->arg, sizeof(h->w.arg));
	if (info->token != NULL)
		(void)util_strlcpy(h->w.token, info->token,
		    sizeof(h->w.token));
	switch (t->kind) {
	case DLV_MAILDIR:
		rc = dlv_maildir_open(h);
		break;
	case DLV_MBOX:
		rc = dlv_mbox_open(h, info);
		break;
	case DLV_MDA:
		rc = dlv_mda_open(h, info);
		break;
	case DLV_STDOUT:
		h->fd = STDOUT_FILENO;
		break;
	default:
		rc = dlv_fail(h, DLV_PERM, "unknown target kind");
	}
	if (rc != DLV_OK) {
		(void)util_snprintf(err, errlen, "%s", h->err);
		dlv_free(h);
		return rc;
	}
	*hp = h;
	return DLV_OK;
}

int
dlv_write(struct dlv *h, const void *buf, size_t len)
{
	if (h->status != DLV_OK || len == 0)
		return h->status;
	if (h->prepared)
		return dlv_fail(h, DLV_PERM, "write after dlv_prepare");
	h->w.size += len;
	h->last = ((const unsigned char *)buf)[len - 1];
	if (h->kind == DLV_MBOX)
		dlv_quote(h, buf, len);
	else
		dlv_put(h, buf, len);
	return h->status;
}

const char *
dlv_error(const struct dlv *h)
{
	return h->err;
}

/* stdout is fsynced when it is a file; pipes and terminals cannot be. */
static int
dlv_stdout_prepare(struct dlv *h)
{
	int e;

	if (dlv_flush(h) != DLV_OK)
		return h->status;
	if (dlv_fsync(h->fd, "file") == -1 && errno != EINVAL &&
	    errno != EROFS && errno != ENOTSUP) {
		e = errno;
		return dlv_fail(h, dlv_errno_status(e), "standard output: "
		    "fsync: %s", strerror(e));
	}
	return DLV_OK;
}

int
dlv_prepare(struct dlv *h, struct dlv_where *w, char *err, size_t errlen)
{
	if (!h->prepared && h->status == DLV_OK) {
		h->prepared = 1;
		switch (h->kind) {
		case DLV_MAILDIR:
			(void)dlv_maildir_prepare(h);
			break;
		case DLV_MBOX:
			(void)dlv_mbox_prepare(h);
			break;
		case DLV_MDA:
			(void)dlv_flush(h);
			break;
		case DLV_STDOUT:
			(void)dlv_stdout_prepare(h);
			break;
		}
	}
	*w = h->w;
	if (h->status != DLV_OK)
		(void)util_snprintf(err, errlen, "%s", h->err);
	return h->status;
}

int
dlv_commit(struct dlv *h, struct dlv_where *w, char *err, size_t errlen)
{
	int rc;

	rc = dlv_prepare(h, w, err, errlen);
	if (h->kind == DLV_MDA)
		rc = dlv_mda_finish(h);
	else if (rc == DLV_OK && h->kind == DLV_MAILDIR)
		rc = dlv_maildir_commit(h);
	else if (rc == DLV_OK && h->kind == DLV_MBOX)
		rc = dlv_mbox_commit(h);
	*w = h->w;
	if (rc != DLV_OK)
		(void)util_snprintf(err, errlen, "%s", h->err);
	dlv_free(h);
	return rc;
}

void
dlv_abort(struct dlv *h)
{
	if (h != NULL)
		dlv_free(h);
}

/* ---- checks after a crash ---- */

/* Whether a Maildir name's second dot-separated part is K<token>. */
static int
dlv_name_has(const char *name, const char *token, size_t tlen)
{
	const char *p = strchr(name, '.');

	return p != NULL && p[1] == 'K' && strncmp(p + 2, token, tlen) == 0 &&
	    p[2 + tlen] == '.';
}

/* Look in one subdirectory; as dlv_maildir_find(). */
static int
dlv_find_in(const char *dir, const char *sub, const char *token,
    char *name, size_t namelen, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	size_t tlen = strlen(token);
	int found = 0, e;

	if (util_snprintf(path, sizeof(path), "%s/%s", dir, sub) == -1) {
		(void)util_snprintf(err, errlen,
		    "Maildir %s: path too long", dir);
		return DLV_PERM;
	}
	if ((d = opendir(path)) == NULL) {
		if ((e = errno) == ENOENT)
			return 0;
		(void)util_snprintf(err, errlen,
		    "Maildir %s: %s", path, strerror(e));
		return dlv_errno_status(e);
	}
	errno = 0;
	while (!found && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' &&
		    dlv_name_has(de->d_name, token, tlen)) {
			found = 1;
			if (namelen > 0)
				(void)util_strlcpy(name, de->d_name, namelen);
		}
	e = errno;
	(void)closedir(d);
	if (!found && e != 0) {
		(void)util_snprintf(err, errlen,
		    "Maildir %s: %s", path, strerror(e));
		return DLV_TEMP;
	}
	return found;
}

int
dlv_maildir_find(const char *dir, const char *token, char *name,
    size_t namelen, char *err, size_t errlen)
{
	int rc;

	if (!dlv_token_valid(token)) {
		(void)util_snprintf(err, errlen, "bad delivery token");
		return DLV_PERM;
	}
	rc = dlv_find_in(dir, "new", token, name, namelen, err, errlen);
	if (rc == 0)
		rc = dlv_find_in(dir, "cur", token, name, namelen, err,
		    errlen);
	return rc;
}

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
		return DLV_PERM;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, &st) == -1) {
		if ((e = errno) == ENOENT)
			return DLV_ABSENT;
		(void)util_snprintf(err, errlen,
		    "mbox %s: %s", path, strerror(e));
		if (fd != -1)
			(void)close(fd);
		return dlv_errno_status(e);
	}
	size = (unsigned long long)st.st_size;
	if (size > offset && size < offset + len) {
		if (dlv_starts_ours(fd, (off_t)offset, (off_t)size))
			rc = DLV_PARTIAL;
	} else if (size >= offset + len && len > 0) {
		if (dlv_hash_range(fd, (off_t)offset, len, md, path, err,
		    errlen) == -1)
			rc = DLV_TEMP;
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
		return DLV_PERM;
	}
	if ((rc = dlv_lock(&lk, path, lock_wait, err, errlen)) != DLV_OK)
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
		rc = DLV_PERM;
		goto out;
	}
	if (ours == -1 || ftruncate(lk.fd, (off_t)offset) == -1 ||
	    dlv_fsync(lk.fd, "mbox") == -1)
		goto fail;
out:
	dlv_unlock(&lk);
	return rc;
fail:
	e = errno;
	(void)util_snprintf(err, errlen, "mbox %s: %s", path, strerror(e));
	dlv_unlock(&lk);
	return DLV_TEMP;
}
