/* SPDX-License-Identifier: MIT */
/*
 * kpop/dlv-io.c: what every delivery target shares (dlv-int.h): the
 * handle's first failure and its message, fsync (with the test hook),
 * and the output buffer, which writes to a pipe or terminal with
 * SIGPIPE blocked, so that a vanished reader is an EPIPE error, not the
 * end of kpop.  Also the check of a delivery token (deliver.h).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/util.h"
#include "kpop/deliver.h"
#include "kpop/dlv-int.h"

#ifdef KPOP_TEST_HOOKS
int (*dlv_test_fsync)(const char *what);
#endif

/* ---- errors ---- */

/*
 * kp_status_errno's rule, and EEXIST too: a name a delivery makes afresh
 * that is there already will be there on the next try.
 */
int
dlv_io_status(int e)
{
	return e == EEXIST ? KP_PERM : kp_status_errno(e);
}

/* Record the handle's first failure; returns the status it holds. */
int
dlv_io_fail(struct dlv *h, int status, const char *fmt, ...)
{
	va_list ap;

	if (h->status != KP_OK)
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
dlv_io_write_pipe(int fd, const void *buf, size_t n)
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
int
dlv_io_fsync(int fd, const char *what)
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
int
dlv_io_fsync_dir(const char *path)
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

/* Write out the pending output (and hash it, if h->sha). */
int
dlv_io_flush(struct dlv *h)
{
	int rc, e;

	if (h->blen == 0 || h->status != KP_OK)
		return h->status;
	if (h->sha != NULL &&
	    EVP_DigestUpdate(h->sha, h->buf, h->blen) != 1)
		return dlv_io_fail(h, KP_TEMP, "SHA-256 failed (OpenSSL)");
	if (h->ops->pipe)
		rc = dlv_io_write_pipe(h->fd, h->buf, h->blen);
	else
		rc = util_write_all(h->fd, h->buf, h->blen, -1);
	if (rc == -1) {
		e = errno;
		return dlv_io_fail(h, dlv_io_status(e), "%s: write: %s",
		    h->label, strerror(e));
	}
	h->out += h->blen;
	h->blen = 0;
	return KP_OK;
}

/* Queue n bytes of output. */
void
dlv_io_put(struct dlv *h, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t k;

	while (n > 0 && h->status == KP_OK) {
		if (h->blen == DLV_BUF_SIZE && dlv_io_flush(h) != KP_OK)
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

/* ---- delivery tokens ---- */

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
