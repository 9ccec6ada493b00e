/* SPDX-License-Identifier: MIT */
/*
 * common/io-int.h: the inside of struct io, shared by io.c and the
 * transports that plug into it (tls.c, sasl-layer.c).  Nothing outside
 * common/ includes this.
 */
#ifndef KPOP_IO_INT_H
#define KPOP_IO_INT_H

#include <stdint.h>

#include "common/io.h"
#include "common/limits.h"

/* What a transport's read or write returns besides a byte count. */
#define IO_T_EOF		0	/* read only: the peer closed */
#define IO_T_WANT_READ		(-1)	/* wait for POLLIN, then retry */
#define IO_T_WANT_WRITE		(-2)	/* wait for POLLOUT, then retry */
#define IO_T_ERROR		(-3)	/* failed: message set in io->err */

/*
 * A transport moves bytes between the buffers and the descriptor.  Each
 * call tries once, never blocks, and returns a byte count or one of the
 * IO_T_ values above.
 */
struct io_transport {
	const char	*name;
	ssize_t		(*read)(struct io *, void *, size_t);
	ssize_t		(*write)(struct io *, const void *, size_t);
	/* Bytes the transport holds decoded, ready without a poll. */
	size_t		(*pending)(const struct io *);
	/* Release the transport's state; the descriptor stays open. */
	void		(*end)(struct io *);
};

struct io {
	int				 fd;
	int				 timeout_ms;
	const struct io_transport	*t;
	void				*tctx;		/* transport state */
	io_sysread_fn			 sysread;
	io_syswrite_fn			 syswrite;
	int				 werr;		/* sticky write error */
	int				 discarding;	/* inside a long line */
	size_t				 rpos, rlen;
	size_t				 wlen;
	uint64_t			 sent;		/* bytes written */
	unsigned char			 rbuf[IO_BUF_SIZE];
	unsigned char			 wbuf[IO_WBUF_SIZE];
	char				 err[ERR_MSG_MAX];
};

/* The deadline for a wait that starts now, or -1 for none. */
int64_t	io_deadline(const struct io *);

/*
 * Wait until fd is ready for events (POLLIN or POLLOUT) or the deadline
 * passes.  Returns IO_OK, IO_TIMEOUT or IO_ERROR.
 */
int	io_wait(struct io *, short events, int64_t deadline);

/* Set io->err; returns IO_ERROR for "return io_fail(...)". */
int	io_fail(struct io *, const char *, ...) KP_PRINTF(2, 3);

/*
 * Read up to n bytes from the descriptor itself (below any transport),
 * retrying EINTR: the count (0 at end of file), IO_T_WANT_READ, or
 * IO_T_ERROR with io->err set.  The plain transport's read, and what
 * the other transports read their records with.
 */
ssize_t	io_raw_read(struct io *, void *, size_t) KP_NONNULL(1, 2);

/*
 * Write up to n bytes to the descriptor itself, retrying EINTR: the
 * count written, IO_T_WANT_WRITE, or IO_T_ERROR with io->err set.
 */
ssize_t	io_raw_write(struct io *, const void *, size_t) KP_NONNULL(1, 2);

/* Put a transport in place (plain when t is NULL). */
void	io_set_transport(struct io *, const struct io_transport *, void *);

#endif
