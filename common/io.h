/* SPDX-License-Identifier: MIT */
/*
 * common/io.h: bounded, buffered line and block I/O over one connection,
 * plain or TLS, with a deadline on every wait.
 *
 * An io owns its descriptor (set non-blocking) and, once TLS is started on
 * it (tls.h), the TLS session: the same calls read and write through
 * either, so STLS upgrades a connection in place.  Reads are buffered;
 * writes are collected until io_flush() or until the buffer fills, so many
 * small replies leave in one write.  Nothing here prints or exits: errors
 * come back as an io_status and a message from io_error().
 */
#ifndef KPOP_IO_H
#define KPOP_IO_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"

struct io;

enum io_status {
	IO_OK = 0,		/* done: a whole line, bytes, or a flush */
	IO_TOOLONG = 1,		/* a line passed the limit; read through
				   its LF and thrown away */
	IO_EOF = -1,		/* the peer closed (mid-line counts too) */
	IO_TIMEOUT = -2,	/* the deadline passed */
	IO_ERROR = -3		/* an I/O or TLS error: see io_error() */
};

/*
 * Wrap the connected descriptor fd, which the io now owns.  Returns a new
 * io to free with io_free(), or NULL (out of memory, or fd unusable).
 */
struct io	*io_new(int fd) KP_WUR;

/* Close the descriptor, end any TLS session, wipe and free the buffers. */
void	 io_free(struct io *);

/* The descriptor, for poll(2), getpeername(2) and the like. */
int	 io_fd(const struct io *) KP_NONNULL(1);

/*
 * How long any one call may wait for the peer, in milliseconds; 0 means
 * not at all, -1 for ever.  The default is 60 seconds.
 */
void	 io_set_timeout(struct io *, int) KP_NONNULL(1);

/*
 * Read one line into buf (of size bufsize, less than IO_BUF_SIZE).
 * The line ends at LF; a CR before it is removed, so bare LF and CRLF read
 * alike.  On IO_OK, buf holds the line NUL-terminated and *lenp its length
 * (it may contain NUL bytes: the length is the truth).  A line of more
 * than bufsize - 1 bytes returns IO_TOOLONG once its LF has been read; its
 * bytes are discarded.  IO_EOF, IO_TIMEOUT, IO_ERROR otherwise.
 */
int	 io_readline(struct io *, char *buf, size_t bufsize, size_t *lenp)
	    KP_NONNULL(1, 2, 4) KP_WUR;

/*
 * Read whatever is available, at least one byte and at most n, waiting
 * until the deadline if nothing is.  Returns IO_OK with *gotp set, or
 * IO_EOF, IO_TIMEOUT, IO_ERROR.
 */
int	 io_read(struct io *, void *buf, size_t n, size_t *gotp)
	    KP_NONNULL(1, 2, 4) KP_WUR;

/*
 * Zero-copy reading for a decoder that may stop inside the buffer (the
 * end of one pipelined response and the start of the next): io_peek
 * waits until at least one byte is buffered and points *p at all that
 * are (*lenp); io_skip then consumes n <= *lenp of them.  io_peek
 * returns IO_OK, IO_EOF, IO_TIMEOUT or IO_ERROR.
 */
int	 io_peek(struct io *, const void **p, size_t *lenp) KP_NONNULL(1, 2, 3)
	    KP_WUR;
void	 io_skip(struct io *, size_t n) KP_NONNULL(1);

/* Read exactly n bytes: IO_OK, or IO_EOF, IO_TIMEOUT, IO_ERROR. */
int	 io_read_full(struct io *, void *buf, size_t n) KP_NONNULL(1) KP_WUR;

/* Bytes already read from the peer and buffered, not yet returned. */
size_t	 io_pending(const struct io *) KP_NONNULL(1);

/* Throw away buffered input (after STLS, RFC 2595 section 4). */
void	 io_drop_input(struct io *) KP_NONNULL(1);

/*
 * Queue n bytes for the peer; the buffer is written out when full.
 * Returns IO_OK, or IO_TIMEOUT or IO_ERROR (sticky: every later write and
 * flush fails the same way).
 */
int	 io_write(struct io *, const void *, size_t) KP_NONNULL(1);
int	 io_puts(struct io *, const char *) KP_NONNULL(1, 2);
int	 io_printf(struct io *, const char *, ...) KP_PRINTF(2, 3)
	    KP_NONNULL(1, 2);
int	 io_vprintf(struct io *, const char *, va_list) KP_PRINTF(2, 0)
	    KP_NONNULL(1, 2);

/* Write out everything queued: IO_OK, IO_TIMEOUT or IO_ERROR. */
int	 io_flush(struct io *) KP_NONNULL(1);

/* Bytes queued and not yet written. */
size_t	 io_queued(const struct io *) KP_NONNULL(1);

/*
 * Bytes written so far (through the transport, before any TLS or SASL
 * layer wraps them: what the peer's application reads).
 */
uint64_t io_sent(const struct io *) KP_NONNULL(1);

/* The message for the last IO_ERROR or IO_TIMEOUT; never NULL. */
const char *io_error(const struct io *) KP_NONNULL(1);

/*
 * For tests: replace read(2) and write(2) under the plain transport, to
 * inject EINTR, EAGAIN and short writes.  NULL restores the system call.
 */
typedef ssize_t (*io_sysread_fn)(int, void *, size_t);
typedef ssize_t (*io_syswrite_fn)(int, const void *, size_t);
void	 io_set_syscalls(struct io *, io_sysread_fn, io_syswrite_fn)
	    KP_NONNULL(1);

#endif
