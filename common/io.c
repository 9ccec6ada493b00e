/* SPDX-License-Identifier: MIT */
/*
 * common/io.c: buffered line and block I/O with deadlines over a plain or
 * TLS transport.  See io.h for the promises; io-int.h for the insides.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "common/io-int.h"

ssize_t
io_raw_read(struct io *io, void *buf, size_t n)
{
	ssize_t r;

	for (;;) {
		r = io->sysread(io->fd, buf, n);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IO_T_WANT_READ;
		io_fail(io, "reading from the peer: %s", strerror(errno));
		return IO_T_ERROR;
	}
}

ssize_t
io_raw_write(struct io *io, const void *buf, size_t n)
{
	ssize_t r;

	for (;;) {
		r = io->syswrite(io->fd, buf, n);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IO_T_WANT_WRITE;
		io_fail(io, "writing to the peer: %s", strerror(errno));
		return IO_T_ERROR;
	}
}

/*
 * A peer that went away must not kill the writer with SIGPIPE: sockets get
 * MSG_NOSIGNAL, anything else (a pipe in a test) a plain write.
 */
static ssize_t
sys_write(int fd, const void *buf, size_t n)
{
	ssize_t r;

	r = send(fd, buf, n, MSG_NOSIGNAL);
	if (r == -1 && errno == ENOTSOCK)
		r = write(fd, buf, n);
	return r;
}

static const struct io_transport plain_transport = {
	"plain", io_raw_read, io_raw_write, NULL, NULL
};

struct io *
io_new(int fd)
{
	struct io *io;
	int flags;

	if (fd < 0)
		return NULL;
	flags = fcntl(fd, F_GETFL);
	if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		return NULL;
	if ((io = calloc(1, sizeof(*io))) == NULL)
		return NULL;
	io->fd = fd;
	io->timeout_ms = IO_DEFAULT_TIMEOUT_MS;
	io->t = &plain_transport;
	io->sysread = read;
	io->syswrite = sys_write;
	return io;
}

void
io_free(struct io *io)
{
	if (io == NULL)
		return;
	if (io->t->end != NULL)
		io->t->end(io);
	if (io->fd >= 0)
		close(io->fd);
	/* Buffers may have held passwords and mail: wipe them. */
	util_wipe(io, sizeof(*io));
	free(io);
}

int
io_fd(const struct io *io)
{
	return io->fd;
}

void
io_set_timeout(struct io *io, int ms)
{
	io->timeout_ms = ms < 0 ? -1 : ms;
}

void
io_set_syscalls(struct io *io, io_sysread_fn r, io_syswrite_fn w)
{
	io->sysread = r != NULL ? r : read;
	io->syswrite = w != NULL ? w : sys_write;
}

void
io_set_transport(struct io *io, const struct io_transport *t, void *ctx)
{
	io->t = t != NULL ? t : &plain_transport;
	io->tctx = ctx;
}

const char *
io_error(const struct io *io)
{
	return io->err[0] != '\0' ? io->err : "no error";
}

int
io_fail(struct io *io, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(io->err, sizeof(io->err), fmt, ap);
	va_end(ap);
	return IO_ERROR;
}

int64_t
io_deadline(const struct io *io)
{
	if (io->timeout_ms < 0)
		return -1;
	return util_now_ms() + io->timeout_ms;
}

int
io_wait(struct io *io, short events, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int r;

	for (;;) {
		if (deadline < 0)
			left = -1;
		else if ((left = deadline - util_now_ms()) < 0)
			left = 0;
		pfd.fd = io->fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return IO_OK;	/* ready, or HUP/ERR: the I/O says */
		if (r == 0) {
			if (deadline >= 0 && util_now_ms() >= deadline) {
				util_snprintf(io->err, sizeof(io->err),
				    "timed out after %d ms", io->timeout_ms);
				return IO_TIMEOUT;
			}
			continue;
		}
		if (errno != EINTR)
			return io_fail(io, "waiting for the peer: %s",
			    strerror(errno));
	}
}

/*
 * Read more bytes into the buffer (which must have room), waiting until
 * the deadline.  Returns IO_OK, IO_EOF, IO_TIMEOUT or IO_ERROR.
 */
static int
io_fill(struct io *io, int64_t deadline)
{
	ssize_t r;
	int st;

	if (io->rpos == io->rlen)
		io->rpos = io->rlen = 0;
	for (;;) {
		r = io->t->read(io, io->rbuf + io->rlen,
		    sizeof(io->rbuf) - io->rlen);
		if (r > 0) {
			io->rlen += (size_t)r;
			return IO_OK;
		}
		if (r == IO_T_EOF)
			return IO_EOF;
		if (r == IO_T_ERROR)
			return IO_ERROR;
		st = io_wait(io, r == IO_T_WANT_WRITE ? POLLOUT : POLLIN,
		    deadline);
		if (st != IO_OK)
			return st;
	}
}

int
io_readline(struct io *io, char *buf, size_t bufsize, size_t *lenp)
{
	int64_t deadline = io_deadline(io);
	unsigned char *nl;
	size_t len;
	int st;

	/* The buffer must keep room for the LF after a longest line. */
	if (bufsize == 0 || bufsize >= sizeof(io->rbuf))
		return io_fail(io, "line buffer size %zu out of range",
		    bufsize);
	for (;;) {
		nl = memchr(io->rbuf + io->rpos, '\n', io->rlen - io->rpos);
		if (nl != NULL) {
			len = (size_t)(nl - (io->rbuf + io->rpos));
			if (io->discarding) {
				io->rpos += len + 1;
				io->discarding = 0;
				return IO_TOOLONG;
			}
			if (len > 0 && nl[-1] == '\r')
				len--;
			if (len > bufsize - 1) {
				io->rpos = (size_t)(nl - io->rbuf) + 1;
				return IO_TOOLONG;
			}
			memcpy(buf, io->rbuf + io->rpos, len);
			buf[len] = '\0';
			*lenp = len;
			io->rpos = (size_t)(nl - io->rbuf) + 1;
			return IO_OK;
		}
		/*
		 * No LF yet.  Once more than the line and its CR is waiting,
		 * the line is too long: drop what is here and keep dropping
		 * until its LF arrives.
		 */
		if (io->discarding || io->rlen - io->rpos > bufsize) {
			io->discarding = 1;
			io->rpos = io->rlen = 0;
		} else if (io->rpos > 0) {
			memmove(io->rbuf, io->rbuf + io->rpos,
			    io->rlen - io->rpos);
			io->rlen -= io->rpos;
			io->rpos = 0;
		}
		if ((st = io_fill(io, deadline)) != IO_OK)
			return st;
	}
}

int
io_read(struct io *io, void *buf, size_t n, size_t *gotp)
{
	size_t have;
	int st;

	if (n == 0) {
		*gotp = 0;
		return IO_OK;
	}
	if (io->rpos == io->rlen) {
		/* Large reads skip the buffer once it is empty. */
		if (n >= sizeof(io->rbuf) / 2) {
			int64_t deadline = io_deadline(io);
			ssize_t r;

			for (;;) {
				r = io->t->read(io, buf, n);
				if (r > 0) {
					*gotp = (size_t)r;
					return IO_OK;
				}
				if (r == IO_T_EOF)
					return IO_EOF;
				if (r == IO_T_ERROR)
					return IO_ERROR;
				st = io_wait(io, r == IO_T_WANT_WRITE ?
				    POLLOUT : POLLIN, deadline);
				if (st != IO_OK)
					return st;
			}
		}
		if ((st = io_fill(io, io_deadline(io))) != IO_OK)
			return st;
	}
	have = io->rlen - io->rpos;
	if (have > n)
		have = n;
	memcpy(buf, io->rbuf + io->rpos, have);
	io->rpos += have;
	*gotp = have;
	return IO_OK;
}

int
io_peek(struct io *io, const void **p, size_t *lenp)
{
	int st;

	if (io->rpos == io->rlen &&
	    (st = io_fill(io, io_deadline(io))) != IO_OK)
		return st;
	*p = io->rbuf + io->rpos;
	*lenp = io->rlen - io->rpos;
	return IO_OK;
}

void
io_skip(struct io *io, size_t n)
{
	if (n > io->rlen - io->rpos)
		n = io->rlen - io->rpos;
	io->rpos += n;
}

int
io_read_full(struct io *io, void *buf, size_t n)
{
	unsigned char *p = buf;
	size_t got;
	int st;

	while (n > 0) {
		if ((st = io_read(io, p, n, &got)) != IO_OK)
			return st;
		p += got;
		n -= got;
	}
	return IO_OK;
}

size_t
io_pending(const struct io *io)
{
	size_t n = io->rlen - io->rpos;

	if (io->t->pending != NULL)
		n += io->t->pending(io);
	return n;
}

void
io_drop_input(struct io *io)
{
	util_wipe(io->rbuf, io->rlen);
	io->rpos = io->rlen = 0;
	io->discarding = 0;
}

/* Write n bytes from p to the peer now, waiting until the deadline. */
static int
io_send(struct io *io, const unsigned char *p, size_t n)
{
	int64_t deadline = io_deadline(io);
	ssize_t r;
	int st;

	while (n > 0) {
		r = io->t->write(io, p, n);
		if (r > 0) {
			io->sent += (uint64_t)r;
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r == 0 || r == IO_T_ERROR) {
			if (r == 0)
				io_fail(io, "writing to the peer: nothing "
				    "was written");
			return io->werr = IO_ERROR;
		}
		st = io_wait(io, r == IO_T_WANT_READ ? POLLIN : POLLOUT,
		    deadline);
		if (st != IO_OK)
			return io->werr = st;
	}
	return IO_OK;
}

int
io_flush(struct io *io)
{
	int st;

	if (io->werr != IO_OK)
		return io->werr;
	if (io->wlen == 0)
		return IO_OK;
	st = io_send(io, io->wbuf, io->wlen);
	io->wlen = 0;
	return st;
}

size_t
io_queued(const struct io *io)
{
	return io->wlen;
}

uint64_t
io_sent(const struct io *io)
{
	return io->sent;
}

int
io_write(struct io *io, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	size_t room;
	int st;

	if (io->werr != IO_OK)
		return io->werr;
	while (n > 0) {
		room = sizeof(io->wbuf) - io->wlen;
		if (n <= room) {
			memcpy(io->wbuf + io->wlen, p, n);
			io->wlen += n;
			return IO_OK;
		}
		/* A block as large as the buffer goes out directly. */
		if (io->wlen == 0)
			return io_send(io, p, n);
		memcpy(io->wbuf + io->wlen, p, room);
		io->wlen += room;
		p += room;
		n -= room;
		if ((st = io_flush(io)) != IO_OK)
			return st;
	}
	return IO_OK;
}

int
io_puts(struct io *io, const char *s)
{
	return io_write(io, s, strlen(s));
}

int
io_vprintf(struct io *io, const char *fmt, va_list ap)
{
	char small[POP3_RESP_MAX];
	va_list copy;
	char *big = NULL;
	int n, st;

	va_copy(copy, ap);
	n = vsnprintf(small, sizeof(small), fmt, copy);
	va_end(copy);
	if (n < 0)
		return io_fail(io, "formatting failed");
	if ((size_t)n < sizeof(small))
		return io_write(io, small, (size_t)n);
	if ((big = malloc((size_t)n + 1)) == NULL)
		return io_fail(io, "out of memory");
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	st = io_write(io, big, (size_t)n);
	free(big);
	return st;
}

int
io_printf(struct io *io, const char *fmt, ...)
{
	va_list ap;
	int st;

	va_start(ap, fmt);
	st = io_vprintf(io, fmt, ap);
	va_end(ap);
	return st;
}
